/*
 * core/util.c: status reasons, method names, HTTP dates, clocks.
 */

#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http_int.h"
#include "worker_int.h"


static uint64_t  util_now_us;
static time_t    util_date_sec = -1;
static char      util_date[32];

static const char  *util_methods[] = {
    "OTHER", "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS",
    "TRACE", "CONNECT"
};

static const char  *util_days[] = {
    "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
};

static const char  *util_months[] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
    "Nov", "Dec"
};


const char *
cairn_status_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default:  return "Unknown";
    }
}


cairn_method_t
cairn_method_from_name(const char *name)
{
    size_t  i;

    for (i = 1; i < sizeof(util_methods) / sizeof(util_methods[0]); i++) {
        if (strcmp(name, util_methods[i]) == 0) {
            return (cairn_method_t) i;
        }
    }

    return CAIRN_METHOD_OTHER;
}


const char *
cairn_method_name(cairn_method_t method)
{
    if ((size_t) method >= sizeof(util_methods) / sizeof(util_methods[0])) {
        return "OTHER";
    }

    return util_methods[method];
}


char *
cairn_http_date(int64_t t, char *buf)
{
    time_t     tt = (time_t) t;
    struct tm  tm;
    int        year;
    char      *p = buf;

    gmtime_r(&tt, &tm);
    year = tm.tm_year + 1900;
    if (year < 0 || year > 9999) {
        year = year < 0 ? 0 : 9999;
    }

    /* "Sun, 06 Nov 1994 08:49:37 GMT": 29 bytes and a NUL. */
    memcpy(p, util_days[tm.tm_wday], 3);
    p += 3;
    *p++ = ',';
    *p++ = ' ';
    *p++ = (char) ('0' + tm.tm_mday / 10);
    *p++ = (char) ('0' + tm.tm_mday % 10);
    *p++ = ' ';
    memcpy(p, util_months[tm.tm_mon], 3);
    p += 3;
    *p++ = ' ';
    *p++ = (char) ('0' + year / 1000);
    *p++ = (char) ('0' + year / 100 % 10);
    *p++ = (char) ('0' + year / 10 % 10);
    *p++ = (char) ('0' + year % 10);
    *p++ = ' ';
    *p++ = (char) ('0' + tm.tm_hour / 10);
    *p++ = (char) ('0' + tm.tm_hour % 10);
    *p++ = ':';
    *p++ = (char) ('0' + tm.tm_min / 10);
    *p++ = (char) ('0' + tm.tm_min % 10);
    *p++ = ':';
    *p++ = (char) ('0' + tm.tm_sec / 10);
    *p++ = (char) ('0' + tm.tm_sec % 10);
    memcpy(p, " GMT", 5);

    return buf;
}


/*
 * Accepts the three formats RFC 9110 asks recipients to read: IMF-fixdate,
 * RFC 850 and asctime.
 */
int64_t
cairn_http_date_parse(const char *s)
{
    struct tm  tm;
    char       wd[16], mon[4];
    int        i, n = 0;

    memset(&tm, 0, sizeof(tm));

    if (sscanf(s, "%3s, %2d %3s %4d %2d:%2d:%2d GMT%n", wd, &tm.tm_mday,
               mon, &tm.tm_year, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n)
        == 7 && n > 0)
    {
        tm.tm_year -= 1900;
    } else if (sscanf(s, "%15[A-Za-z], %2d-%3s-%2d %2d:%2d:%2d GMT%n", wd,
                      &tm.tm_mday, mon, &tm.tm_year, &tm.tm_hour,
                      &tm.tm_min, &tm.tm_sec, &n) == 7 && n > 0)
    {
        if (tm.tm_year < 70) {
            tm.tm_year += 100;
        }
    } else if (sscanf(s, "%3s %3s %2d %2d:%2d:%2d %4d%n", wd, mon,
                      &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
                      &tm.tm_year, &n) == 7 && n > 0)
    {
        tm.tm_year -= 1900;
    } else {
        return -1;
    }

    for (i = 0; i < 12; i++) {
        if (strcasecmp(mon, util_months[i]) == 0) {
            break;
        }
    }
    if (i == 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23
        || tm.tm_min > 59 || tm.tm_sec > 60)
    {
        return -1;
    }
    tm.tm_mon = i;

    return (int64_t) timegm(&tm);
}


void
cairn__time_update(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    util_now_us = (uint64_t) ts.tv_sec * 1000000u
                  + (uint64_t) ts.tv_nsec / 1000u;
}


uint64_t
cairn_now_us(void)
{
    if (util_now_us == 0) {
        cairn__time_update();
    }

    return util_now_us;
}


const char *
cairn__date_now(void)
{
    time_t  now = time(NULL);

    if (now != util_date_sec) {
        util_date_sec = now;
        cairn_http_date(now, util_date);
    }

    return util_date;
}
