# What the user agent tells the application (UserAgent.next_event()).
# Plain classes with the facts as attributes; repr() for logs shows no
# secrets and no message bodies.


class Event:
    def __repr__(self):
        fields = ["%s=%r" % (k, v) for k, v in sorted(self.__dict__.items()) if k != "body"]
        return "%s(%s)" % (type(self).__name__, ", ".join(fields))


class Registered(Event):
    def __init__(self, aor, expires):
        self.aor = aor
        self.expires = expires  # seconds the registrar granted


class Unregistered(Event):
    def __init__(self, aor):
        self.aor = aor


class RegistrationFailed(Event):
    """`retry_in` is milliseconds until the next attempt, or None when the
    UA will not retry by itself (wrong credentials, for example)."""

    def __init__(self, status, reason, retry_in):
        self.status = status
        self.reason = reason
        self.retry_in = retry_in


class ConnectionLost(Event):
    def __init__(self, reason):
        self.reason = reason


class IncomingCall(Event):
    def __init__(self, call, body):
        self.call = call
        self.body = body  # the SDP offer (bytes, may be empty)


class CallProgress(Event):
    def __init__(self, call, status, body):
        self.call = call
        self.status = status  # 180 or 183 ...
        self.body = body


class CallAnswered(Event):
    """Our INVITE got a 2xx (ACK sent). `body` is the SDP answer."""

    def __init__(self, call, body):
        self.call = call
        self.body = body


class CallConfirmed(Event):
    """The ACK for the 2xx we sent arrived: the call is up."""

    def __init__(self, call):
        self.call = call


class CallFailed(Event):
    def __init__(self, call, status, reason):
        self.call = call
        self.status = status
        self.reason = reason


class CallEnded(Event):
    """`how`: "local", "remote", "cancelled", "no-ack", "connection-lost"."""

    def __init__(self, call, how):
        self.call = call
        self.how = how


class UpdateRequested(Event):
    """The peer sent a re-INVITE: answer it with accept_update/reject_update."""

    def __init__(self, call, body):
        self.call = call
        self.body = body


class CallUpdated(Event):
    """Our re-INVITE was accepted; `body` is the peer's SDP answer."""

    def __init__(self, call, body):
        self.call = call
        self.body = body


class UpdateFailed(Event):
    def __init__(self, call, status, reason):
        self.call = call
        self.status = status
        self.reason = reason
