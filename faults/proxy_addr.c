/* Parsing and printing of "host:port" addresses for the proxies. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faults/proxy_int.h"
#include "base/alloc.h"

socklen_t fl_addr_len(const struct sockaddr *sa) {
  return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                   : sizeof(struct sockaddr_in);
}

void fl_addr_format(const struct sockaddr *sa, char *buf, size_t size) {
  char ip[INET6_ADDRSTRLEN] = "?";
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
    inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
    snprintf(buf, size, "[%s]:%u", ip, ntohs(a->sin6_port));
  } else {
    const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
    snprintf(buf, size, "%s:%u", ip, ntohs(a->sin_port));
  }
}

static int parse_port(const char *s, int *out) {
  if (*s == '\0' || strlen(s) > 5)
    return -1;
  for (const char *q = s; *q; q++)
    if (*q < '0' || *q > '9')
      return -1;
  long v = strtol(s, NULL, 10);
  if (v > 65535)
    return -1;
  *out = (int)v;
  return 0;
}

int fl_addr_parse(const char *s, const char *field, int name_ok,
                  struct sockaddr_storage *out, int *numeric, char **host, char **port,
                  fl_err_t *err) {
  char buf[300];
  char *h, *ps;
  int portnum;

  memset(out, 0, sizeof(*out));
  *numeric = 1;
  if (host != NULL)
    *host = NULL;
  if (port != NULL)
    *port = NULL;
  if (s == NULL || strlen(s) >= sizeof(buf))
    return fl_err_set(err, FL_ECONFIG, "field \"%s\": expected \"host:port\"", field);
  strcpy(buf, s);
  if (buf[0] == '[') {
    char *close = strchr(buf, ']');
    if (close == NULL || close[1] != ':')
      return fl_err_set(err, FL_ECONFIG,
                        "field \"%s\": expected \"[address]:port\" (got \"%s\")", field,
                        s);
    *close = '\0';
    h = buf + 1;
    ps = close + 2;
  } else {
    char *colon = strrchr(buf, ':');
    if (colon == NULL)
      return fl_err_set(err, FL_ECONFIG,
                        "field \"%s\": expected \"host:port\" (got \"%s\")", field, s);
    *colon = '\0';
    h = buf;
    ps = colon + 1;
    if (strchr(h, ':') != NULL)
      return fl_err_set(err, FL_ECONFIG,
                        "field \"%s\": write an IPv6 address as \"[address]:port\" "
                        "(got \"%s\")",
                        field, s);
  }
  if (parse_port(ps, &portnum) != 0 || (name_ok && portnum == 0))
    return fl_err_set(err, FL_ECONFIG, "field \"%s\": bad port in \"%s\"", field, s);

  if (h[0] == '\0')
    h = name_ok ? "127.0.0.1" : "0.0.0.0";
  else if (strcmp(h, "localhost") == 0)
    h = "127.0.0.1";
  if (uv_ip4_addr(h, portnum, (struct sockaddr_in *)out) == 0)
    return 0;
  if (uv_ip6_addr(h, portnum, (struct sockaddr_in6 *)out) == 0)
    return 0;
  if (!name_ok || host == NULL || port == NULL)
    return fl_err_set(
        err, FL_ECONFIG,
        "field \"%s\": \"%s\" is not an IP address or localhost (in \"%s\")", field, h,
        s);
  *numeric = 0;
  *host = fl_strdup(h);
  *port = fl_strdup(ps);
  return 0;
}
