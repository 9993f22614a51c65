/* SPDX-License-Identifier: MIT */
/* error.c - DOMException-style names and the thread's last error message. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "crosspost.h"
#include "error.h"

static _Thread_local char last_message[512];

const char *cp_error_name(int code)
{
	switch (code) {
	case CP_OK: return "OK";
	case CP_ERR_SYNTAX: return "SyntaxError";
	case CP_ERR_NOT_FOUND: return "NotFoundError";
	case CP_ERR_DATA_CLONE: return "DataCloneError";
	case CP_ERR_INVALID_STATE: return "InvalidStateError";
	case CP_ERR_TYPE: return "TypeError";
	case CP_ERR_NETWORK: return "NetworkError";
	case CP_ERR_TIMEOUT: return "TimeoutError";
	case CP_ERR_NOT_SUPPORTED: return "NotSupportedError";
	case CP_ERR_CONSTRAINT: return "ConstraintError";
	case CP_ERR_NO_MEMORY: return "QuotaExceededError";
	case CP_ERR_DATA: return "DataError";
	case CP_ERR_RANGE: return "RangeError";
	case CP_ERR_SECURITY: return "SecurityError";
	default: return "UnknownError";
	}
}

const char *cp_last_error_message(void)
{
	return last_message;
}

int error_set(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_message, sizeof(last_message), fmt, ap);
	va_end(ap);
	return code;
}

int error_from_errno(int negative_errno)
{
	switch (-negative_errno) {
	case 0: return CP_OK;
	case ENOMEM: case EMSGSIZE: return CP_ERR_NO_MEMORY;
	case EINVAL: return CP_ERR_TYPE;
	case ETIMEDOUT: return CP_ERR_TIMEOUT;
	default: return CP_ERR_NETWORK;
	}
}
