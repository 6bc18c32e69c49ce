// The sandbox chat's live view: the server sends the whole thread again
// (already escaped HTML it rendered) whenever it changed; the page swaps it
// in. Without JavaScript the page still shows the thread as it was loaded.
(function () {
  "use strict";
  var thread = document.getElementById("thread");
  if (!thread || !window.EventSource) {
    return;
  }
  var source = new EventSource(thread.getAttribute("data-stream"));
  source.addEventListener("thread", function (event) {
    var atBottom = thread.scrollHeight - thread.scrollTop - thread.clientHeight < 40;
    thread.innerHTML = event.data;
    thread.setAttribute("data-live", "yes");
    if (atBottom) {
      thread.scrollTop = thread.scrollHeight;
    }
  });
  source.addEventListener("open", function () {
    thread.setAttribute("data-connected", "yes");
  });
  thread.scrollTop = thread.scrollHeight;
})();
