"""Bounce and complaint webhooks of mail providers, beside the DSN path (mail.bounces).

Amazon SES (through SNS), Mailgun, Postmark and SendGrid each post their own JSON, signed their own
way (`signatures`, `sns`); `providers` reads each shape into `events.ProviderEvent`s, and `events`
gives each the outcome a DSN would have: a hard bounce suppresses the address, a soft one is scored, a
complaint suppresses it and takes the recipient out of the run. `routes` serves them under
`/mail/webhooks/{provider}`; a provider not configured answers 404, a bad signature 401.
"""
