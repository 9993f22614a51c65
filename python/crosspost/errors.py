# SPDX-License-Identifier: MIT
"""errors - libcrosspost's errors as Python exceptions.

Every failure of the library is raised as a subclass of crosspost.Error,
named like the DOMException the C API names it after (cp_error_name()).
Three of those names are Python built-ins (SyntaxError, TypeError,
TimeoutError): their classes carry a trailing underscore so that
`from crosspost import *` shadows nothing, and each also subclasses the
built-in that fits it, so `except TimeoutError` catches a crosspost timeout.

    DOMException name     class                         also a
    SyntaxError           crosspost.SyntaxError_        ValueError
    NotFoundError         crosspost.NotFoundError       LookupError
    DataCloneError        crosspost.DataCloneError
    InvalidStateError     crosspost.InvalidStateError
    TypeError             crosspost.TypeError_          TypeError
    NetworkError          crosspost.NetworkError        ConnectionError
    TimeoutError          crosspost.TimeoutError_       TimeoutError
    NotSupportedError     crosspost.NotSupportedError
    ConstraintError       crosspost.ConstraintError
    QuotaExceededError    crosspost.QuotaExceededError
    DataError             crosspost.DataError
    RangeError            crosspost.RangeError          ValueError
    SecurityError         crosspost.SecurityError

e.name is the DOMException name, e.code the CP_ERR_* code (negative), and
str(e) the library's message (cp_last_error_message()).
"""

# The CP_ERR_* codes (client/crosspost.h); errors raised by the Python side
# itself (a value it cannot convert) carry the code of their C twin.
CODES = {
    "SyntaxError": -1, "NotFoundError": -2, "DataCloneError": -3, "InvalidStateError": -4,
    "TypeError": -5, "NetworkError": -6, "TimeoutError": -7, "NotSupportedError": -8,
    "ConstraintError": -9, "QuotaExceededError": -10, "DataError": -11, "RangeError": -12,
    "SecurityError": -13,
}


class Error(Exception):
    """A libcrosspost error; .name is its DOMException name, .code its CP_ERR_* code."""
    name = "UnknownError"
    code = 0

    def __init__(self, message="", code=None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self):
        return self.message

    def __repr__(self):
        return f"crosspost.{type(self).__name__}({self.message!r})"


def _error_class(class_name, dom_name, *bases, doc):
    cls = type(class_name, (Error,) + bases,
               {"name": dom_name, "code": CODES[dom_name], "__doc__": doc, "__module__": "crosspost"})
    # The built-in bases have their own __str__ and __init__; Error's win.
    return cls


SyntaxError_ = _error_class("SyntaxError_", "SyntaxError", ValueError,
                            doc="A URL or targetOrigin that does not parse (DOMException SyntaxError).")
NotFoundError = _error_class("NotFoundError", "NotFoundError", LookupError,
                             doc="No such window: no window has that name, or the id never existed.")
DataCloneError = _error_class("DataCloneError", "DataCloneError",
                              doc="A value that cannot be serialized (or transferred).")
InvalidStateError = _error_class("InvalidStateError", "InvalidStateError",
                                 doc="The object is closed, detached or transferred, or not usable now.")
TypeError_ = _error_class("TypeError_", "TypeError", TypeError,
                          doc="An argument of the wrong kind.")
NetworkError = _error_class("NetworkError", "NetworkError", ConnectionError,
                            doc="The broker is unreachable, or the connection to it was lost.")
TimeoutError_ = _error_class("TimeoutError_", "TimeoutError", TimeoutError,
                             doc="A wait ran out.")
NotSupportedError = _error_class("NotSupportedError", "NotSupportedError",
                                 doc="The broker speaks another protocol version, or the loaded "
                                     "library lacks a function.")
ConstraintError = _error_class("ConstraintError", "ConstraintError",
                               doc="A window name already in use.")
QuotaExceededError = _error_class("QuotaExceededError", "QuotaExceededError",
                                  doc="Out of memory, or a broker limit (windows, ports, connections).")
DataError = _error_class("DataError", "DataError",
                         doc="A payload that cannot be deserialized.")
RangeError = _error_class("RangeError", "RangeError", ValueError,
                          doc="An argument over a documented size limit (URL, name, targetOrigin).")
SecurityError = _error_class("SecurityError", "SecurityError",
                             doc="The broker's policy forbids it, or the broker runs as another user.")

_BY_NAME = {cls.name: cls for cls in (
    SyntaxError_, NotFoundError, DataCloneError, InvalidStateError, TypeError_, NetworkError,
    TimeoutError_, NotSupportedError, ConstraintError, QuotaExceededError, DataError, RangeError,
    SecurityError)}


def from_name(name, message, code=None):
    """The exception for a DOMException name (crosspost.Error for one not listed)."""
    cls = _BY_NAME.get(name)
    if cls is None:
        e = Error(message, code)
        e.name = name
        return e
    return cls(message, code)
