-- The business account an instance's platform account belongs to: the
-- WhatsApp Business Account (WABA) id of a whatsapp instance, whose
-- account_id is the phone number id Meta's webhooks name.
ALTER TABLE instances ADD COLUMN account_business_id TEXT;
