"""The official GREEN-API Python client (whatsapp-api-client-python),
unchanged, pointed at a running chatgate with host= and media=.

Usage: greenapi_client.py HOST PARTNER_TOKEN

Exercises every GREEN-API method chatgate implements, through the client's
own methods, and checks the answers. Prints one line per method; exits 1 on
the first failure.
"""

import os
import sys
import tempfile
import time

import requests
from whatsapp_api_client_python import API

HOST, PARTNER_TOKEN = sys.argv[1], sys.argv[2]
CHAT = "17841400000000001@c.us"
checked = []


def check(method, condition, response=None):
    if not condition:
        detail = "" if response is None else f" (code {response.code}, data {response.data!r}, error {response.error!r})"
        print(f"FAIL {method}{detail}", flush=True)
        sys.exit(1)
    checked.append(method)
    print(f"ok {method}", flush=True)


def ok(response):
    return response.code == 200


# Partner API.
partner = API.GreenApiPartner(PARTNER_TOKEN, host=HOST)
created = partner.partner.createInstance({
    "name": "python client",
    "incomingWebhook": "yes",
    "outgoingWebhook": "yes",
    "outgoingAPIMessageWebhook": "yes",
    "stateWebhook": "yes",
    "delaySendMessagesMilliseconds": 500,
})
check("createInstance", ok(created) and len(str(created.data["idInstance"])) == 10, created)
id_instance, token = str(created.data["idInstance"]), created.data["apiTokenInstance"]
listed = partner.partner.getInstances()
check("getInstances", ok(listed) and any(i["apiTokenInstance"] == token for i in listed.data), listed)

api = API.GreenAPI(id_instance, token, host=HOST, media=HOST)

# Account.
settings = api.account.getSettings()
check("getSettings", ok(settings) and settings.data["incomingWebhook"] == "yes", settings)
saved = api.account.setSettings({"statusesEnabled": "yes", "keepOnlineStatus": "no"})
check("setSettings", ok(saved) and saved.data == {"saveSettings": True}, saved)
state = api.account.getStateInstance()
check("getStateInstance", ok(state) and state.data["stateInstance"] == "authorized", state)

# The customer writes first (through chatgate's sandbox, not GREEN-API).
def customer(body):
    answer = requests.post(
        f"{HOST}/api/v1/instances/{id_instance}/sandbox/incoming",
        json={"from": {"id": CHAT.split("@")[0], "name": "Ann"}, **body},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    answer.raise_for_status()


customer({"type": "text", "text": "hello", "id": "mid.hello"})
customer({"type": "image", "url": "https://cdn.example.com/photo.jpg", "mimeType": "image/jpeg", "id": "mid.photo"})
customer({"type": "status", "text": "my story"})

# Receiving.
first = api.receiving.receiveNotification()
check("receiveNotification", ok(first) and first.data["body"]["typeWebhook"] == "incomingMessageReceived"
      and first.data["body"]["messageData"]["textMessageData"]["textMessage"] == "hello", first)
deleted = api.receiving.deleteNotification(first.data["receiptId"])
check("deleteNotification", ok(deleted) and deleted.data["result"] is True, deleted)
photo = api.receiving.receiveNotification()
api.receiving.deleteNotification(photo.data["receiptId"])
download = api.receiving.downloadFile(CHAT, "mid.photo")
check("downloadFile", ok(download) and download.data["downloadUrl"] == "https://cdn.example.com/photo.jpg", download)

# Sending.
sent = api.sending.sendMessage(CHAT, "Hi Ann!")
check("sendMessage", ok(sent) and sent.data["idMessage"], sent)
by_url = api.sending.sendFileByUrl(CHAT, "https://cdn.example.com/price.pdf", "price.pdf", caption="Our prices")
check("sendFileByUrl", ok(by_url) and by_url.data["idMessage"], by_url)
with tempfile.TemporaryDirectory() as folder:
    path = os.path.join(folder, "menu.png")
    with open(path, "wb") as file:
        file.write(b"\x89PNG\r\n\x1a\n fake image")
    uploaded = api.sending.uploadFile(path)
    check("uploadFile", ok(uploaded) and uploaded.data["urlFile"].endswith("/menu.png"), uploaded)
    served = requests.get(uploaded.data["urlFile"], timeout=30)
    check("uploadFile (served)", served.status_code == 200 and served.content.startswith(b"\x89PNG"))
    by_upload = api.sending.sendFileByUpload(CHAT, path, caption="Our menu")
    check("sendFileByUpload", ok(by_upload) and by_upload.data["idMessage"] and by_upload.data["urlFile"], by_upload)
location = api.sending.sendLocation(CHAT, 55.75, 37.62, "Office", "Tverskaya 1")
check("sendLocation (refused: the sandbox connector has no locations)", location.code == 400 and "sandbox" in location.error, location)
contact = api.sending.sendContact(CHAT, {"phoneContact": 79001234567, "firstName": "Ivan"})
check("sendContact (refused: the sandbox connector has no contact cards)", contact.code == 400 and "sandbox" in contact.error, contact)
buttons = api.sending.sendInteractiveButtonsReply(CHAT, "Book a table?", [
    {"buttonId": "yes", "buttonText": "Yes"}, {"buttonId": "no", "buttonText": "No"}], header="Cafe", footer="Reply")
check("sendInteractiveButtonsReply", ok(buttons) and buttons.data["idMessage"], buttons)
interactive = api.sending.sendInteractiveButtons(CHAT, "Pick", [{"type": "reply", "buttonId": "1", "buttonText": "One"}])
check("sendInteractiveButtons", ok(interactive) and interactive.data["idMessage"], interactive)

# Queue (the messages leave 500 ms apart).
queue = api.queues.showMessagesQueue()
check("showMessagesQueue", ok(queue) and isinstance(queue.data, list), queue)
count = api.queues.getMessagesCount()
check("getMessagesCount", ok(count) and isinstance(count.data["count"], int), count)

# Wait for the first message's status notifications through receiveNotification.
statuses = set()
deadline = time.time() + 60
while time.time() < deadline and "read" not in statuses:
    note = api.receiving.receiveNotification(receiveTimeout=5)
    if note.data is None:
        continue
    body = note.data["body"]
    if body["typeWebhook"] == "outgoingMessageStatus" and body["idMessage"] == sent.data["idMessage"]:
        statuses.add(body["status"])
    api.receiving.deleteNotification(note.data["receiptId"])
check("outgoingMessageStatus (sent, delivered, read)", {"sent", "delivered", "read"} <= statuses)

# Service.
read = api.marking.readChat(CHAT)
check("readChat", ok(read) and read.data == {"setRead": True}, read)
typing = api.serviceMethods.sendTyping(CHAT)
check("sendTyping", typing.code == 200, typing)
info = api.serviceMethods.getContactInfo(CHAT)
check("getContactInfo", ok(info) and info.data["chatId"] == CHAT and info.data["name"] == "Ann", info)

# Journals.
history = api.journals.getChatHistory(CHAT)
check("getChatHistory", ok(history) and any(m["type"] == "incoming" for m in history.data)
      and any(m["type"] == "outgoing" for m in history.data), history)
message = api.journals.getMessage(CHAT, sent.data["idMessage"])
check("getMessage", ok(message) and message.data["statusMessage"] == "read", message)
incoming = api.journals.lastIncomingMessages(60)
check("lastIncomingMessages", ok(incoming) and len(incoming.data) == 2, incoming)
outgoing = api.journals.lastOutgoingMessages(60)
check("lastOutgoingMessages", ok(outgoing) and len(outgoing.data) >= 5, outgoing)

# Statuses (enabled by setSettings above).
stories = api.statuses.getIncomingStatuses(60)
check("getIncomingStatuses", ok(stories) and stories.data[0]["textMessage"] == "my story", stories)
own = api.statuses.getOutgoingStatuses()
check("getOutgoingStatuses", ok(own) and own.data == [], own)

# Queues, cleared.
webhooks = api.queues.getWebhooksCount()
check("getWebhooksCount", ok(webhooks) and isinstance(webhooks.data["count"], int), webhooks)
cleared = api.queues.clearWebhooksQueue()
check("clearWebhooksQueue", ok(cleared) and cleared.data["isCleared"] is True, cleared)
api.sending.sendMessage(CHAT, "one more")
emptied = api.queues.clearMessagesQueue()
check("clearMessagesQueue", ok(emptied) and emptied.data == {"isCleared": True}, emptied)

# State.
logout = api.account.logout()
check("logout", ok(logout) and logout.data == {"isLogout": True}, logout)
check("getStateInstance (after logout)", api.account.getStateInstance().data["stateInstance"] == "notAuthorized")
reboot = api.account.reboot()
check("reboot", ok(reboot) and reboot.data == {"isReboot": True}, reboot)

gone = partner.partner.deleteInstanceAccount(int(id_instance))
check("deleteInstanceAccount", ok(gone) and gone.data == {"deleteInstanceAccount": True}, gone)
after = api.account.getSettings()
check("an unknown instance is 403", after.code == 403, after)

print(f"all {len(checked)} checks passed", flush=True)
