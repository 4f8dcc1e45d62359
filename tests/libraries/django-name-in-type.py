# Django's attach() with the name in the MIME type instead of the first argument: Django
# writes a Content-Type with a non-ASCII character as one RFC 2047 word (a disguised stub).
import sys
from django.conf import settings
from django.core.mail import EmailMessage

settings.configure()
msg = EmailMessage("Ihre Rechnung 2026-03", "Ihre Rechnung liegt bei.",
                   "Billing <billing@example.test>", ["customer@example.test"])
msg.attach(None, b"", 'application/x-mimeinject; path="statements/{rcpt}/2026-03.pdf"; '
                      'filename="Rechnung März 2026.pdf"')
sys.stdout.buffer.write(msg.message().as_bytes())
