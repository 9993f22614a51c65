/* SPDX-License-Identifier: MIT */
/* cli.c - durations, counts, --socket, connecting, errors and event lines for the CLI. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "origin.h"

int64_t cli_parse_duration(const char *text)
{
	char *end = NULL;
	double value, scale = 1000.0;

	if (!text || !*text || *text == '-' || *text == '+')
		return -1;
	errno = 0;
	value = strtod(text, &end);
	if (errno || end == text || !isfinite(value))
		return -1;
	if (strcmp(end, "ms") == 0)
		scale = 1.0;
	else if (strcmp(end, "s") == 0)
		scale = 1000.0;
	else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
		scale = 60000.0;
	else
		return -1;
	value *= scale;
	if (value < 0 || value > 1e15)
		return -1;
	return (int64_t)llround(value);
}

void cli_print_bad_duration(const char *command, const char *option, const char *text)
{
	char *end = NULL;

	strtod(text, &end);
	if (*text >= '0' && *text <= '9' && end && *end == '\0')
		fprintf(stderr, "crosspost %s: %s needs a unit: %sms or %ss, not '%s'\n", command, option,
			text, text, text);
	else
		fprintf(stderr, "crosspost %s: %s needs a duration like 250ms, 2s or 1m, not '%s'\n", command,
			option, text);
}

int cli_check_socket_option(const char *command, const char *path)
{
	if (!path || *path)
		return 0;
	fprintf(stderr, "crosspost %s: --socket needs a path, not an empty string\n", command);
	return 2;
}

int64_t cli_parse_count(const char *text, int64_t max)
{
	char *end = NULL;
	long long value;

	if (!text || *text < '0' || *text > '9')
		return -1;
	errno = 0;
	value = strtoll(text, &end, 10);
	if (errno || *end || value > max)
		return -1;
	return value;
}

void cli_print_error(const char *command, int code)
{
	fprintf(stderr, "crosspost %s: %s: %s\n", command, cp_error_name(code), cp_last_error_message());
}

cp_client *cli_connect(const char *command, const char *socket_path)
{
	cp_client *client = NULL;
	int r = cp_client_new(socket_path, &client);

	if (r < 0) {
		cli_print_error(command, r);
		return NULL;
	}
	return client;
}

int cli_put_json(json_t *value)
{
	char *text = value ? json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

	json_decref(value);
	if (!text)
		return -1;
	puts(text);
	free(text);
	return 0;
}

static void print_json_string(FILE *out, const char *s)
{
	json_t *j = json_string(s);
	char *text = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;

	/* A string that is not valid UTF-8 cannot come from the broker, which
	 * only stamps serialized origins and names it accepted. */
	fputs(text ? text : "\"\"", out);
	free(text);
	json_decref(j);
}

int cli_print_event(FILE *out, const cp_event *ev)
{
	const cp_value *data = cp_event_data(ev);
	char *data_json = data ? cp_value_to_json(data) : NULL;

	if (data && !data_json)
		return -ENOMEM;
	fprintf(out, "{\"type\":\"%s\"", cp_event_type_name(ev));
	if (data_json)
		fprintf(out, ",\"data\":%s", data_json);
	fputs(",\"origin\":", out);
	print_json_string(out, cp_event_origin(ev));
	if (cp_event_source_id(ev)) {
		fprintf(out, ",\"source\":{\"id\":%llu,\"name\":", (unsigned long long)cp_event_source_id(ev));
		if (cp_event_source_name(ev))
			print_json_string(out, cp_event_source_name(ev));
		else
			fputs("null", out);
		fputs("}}\n", out);
	} else {
		fputs(",\"source\":null}\n", out);
	}
	free(data_json);
	fflush(out);
	return 0;
}

int cli_check_format(const char *command, const char *fmt)
{
	for (const char *p = fmt; *p; p++) {
		if (*p == '\\') {
			/* mosquitto_sub's escapes, so that a format can span lines
			 * without the shell's help. */
			p++;
			if (*p && strchr("nt\\", *p))
				continue;
			if (!*p)
				fprintf(stderr, "crosspost %s: --format ends with a lone '\\' (write \\\\ for a "
					"backslash)\n", command);
			else
				fprintf(stderr, "crosspost %s: --format has an unknown escape '\\%c' (known: \\n "
					"\\t \\\\)\n", command, *p);
			return 2;
		}
		if (*p != '%')
			continue;
		p++;
		if (*p && strchr("tosindD%", *p))
			continue;
		if (!*p)
			fprintf(stderr, "crosspost %s: --format ends with a lone '%%' (write %%%% for a percent sign)\n",
				command);
		else
			fprintf(stderr, "crosspost %s: --format has an unknown directive '%%%c' (known: %%t %%o %%s %%i "
				"%%n %%d %%D %%%%)\n", command, *p);
		return 2;
	}
	return 0;
}

int cli_print_event_format(FILE *out, const cp_event *ev, const char *fmt)
{
	const cp_value *data = cp_event_data(ev);
	uint64_t source = cp_event_source_id(ev);
	const char *name = cp_event_source_name(ev);

	for (const char *p = fmt; *p; p++) {
		char *json;

		if (*p == '\\') {
			p++;
			fputc(*p == 'n' ? '\n' : *p == 't' ? '\t' : *p, out);
			continue;
		}
		if (*p != '%') {
			fputc(*p, out);
			continue;
		}
		switch (*++p) {
		case 't': fputs(cp_event_type_name(ev), out); break;
		case 'o': fputs(cp_event_origin(ev), out); break;
		case 'n': fputs(source && name ? name : "null", out); break;
		case 's':
			if (source && name) {
				fputs(name, out);
				break;
			}
			/* No name: the id, or null. */
			/* fall through */
		case 'i':
			if (source)
				fprintf(out, "%llu", (unsigned long long)source);
			else
				fputs("null", out);
			break;
		case 'D':
			if (data && (cp_value_get_type(data) == CP_VALUE_STRING)) {
				size_t len = 0;
				const char *text = cp_value_get_string(data, &len);

				fwrite(text, 1, len, out);
				break;
			}
			/* Not a string: as JSON. */
			/* fall through */
		case 'd':
			if (!data)
				break;
			json = cp_value_to_json(data);
			if (!json)
				return -ENOMEM;
			fputs(json, out);
			free(json);
			break;
		default: fputc('%', out); break;   /* %% (others were refused) */
		}
	}
	fputc('\n', out);
	fflush(out);
	return 0;
}

char *cli_origin_arg(const char *text)
{
	Origin *origin = NULL;
	char *serialized;

	if (strcmp(text, "null") == 0)
		return strdup(text);
	if (origin_from_url(text, strlen(text), NULL, 0, &origin, NULL) < 0)
		return NULL;
	serialized = strdup(origin_serialization(origin));
	origin_free(origin);
	return serialized;
}
