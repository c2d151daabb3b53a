"""Mail members send us: stored raw (store), read safely (message), routed (process), understood and answered.

Every way in (the MTA pipe, the SMTP receiver, a provider's webhook, an IMAP
mailbox, the embedded sink) calls `store.receive`; a job then calls
`process.process`, which calls the same domain functions the web pages call.
"""
