# SIP core (RFC 3261) for the handset: message syntax in message.py and the
# modules it re-exports (errors, syntax, uri, headers, framing); transactions,
# dialogs, registration and the user agent beside them. Sans-IO throughout.
