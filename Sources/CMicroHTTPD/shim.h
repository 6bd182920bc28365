#ifndef METRIKA_CMICROHTTPD_SHIM_H
#define METRIKA_CMICROHTTPD_SHIM_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <microhttpd.h>

/// What the gateway keeps per request: the raw request target (path and query, still percent-encoded:
/// MHD unescapes the path and splits the query before the handler runs, so the handler could not refuse
/// a malformed one) and whether the handler has seen the request's headers already.
struct metrika_mhd_request {
    char *target;
    int headers_seen;
};

/// Creates the request's context from its raw target; freed by `metrika_mhd_request_completed`.
static inline void *metrika_mhd_copy_uri(void *cls, const char *uri, struct MHD_Connection *connection) {
    (void)cls;
    (void)connection;
    struct metrika_mhd_request *request = calloc(1, sizeof(struct metrika_mhd_request));
    if (request != NULL && uri != NULL) request->target = strdup(uri);
    return request;
}

/// Frees the request's context, whether the request completed or failed.
static inline void metrika_mhd_request_completed(void *cls, struct MHD_Connection *connection, void **context,
                                                 enum MHD_RequestTerminationCode reason) {
    (void)cls;
    (void)connection;
    (void)reason;
    struct metrika_mhd_request *request = *context;
    if (request != NULL) {
        free(request->target);
        free(request);
    }
    *context = NULL;
}

/// MHD_start_daemon is variadic (unavailable in Swift): this fixes the options the gateway uses.
///
/// Listens on `address` (an IPv4 or IPv6 literal) and `port` (0 picks a free one) with MHD's own polling
/// thread and one thread per connection, so handlers may block without stalling other clients.
/// A connection is refused beyond `connection_limit` (and `per_ip_limit` from one address, 0 = no limit),
/// closed after `timeout_seconds` idle, and answered 4xx when its request line and headers do not fit in
/// `memory_limit` bytes. `handler_cls` is passed to `handler` unchanged and must outlive the daemon.
/// Returns NULL with `*error_number` set (EINVAL for an address that is not an IP literal; the errno of the
/// failed socket call, e.g. EADDRINUSE, otherwise).
static inline struct MHD_Daemon *metrika_mhd_start(const char *address, uint16_t port,
                                                   unsigned int connection_limit, unsigned int per_ip_limit,
                                                   unsigned int timeout_seconds, size_t memory_limit,
                                                   MHD_AccessHandlerCallback handler, void *handler_cls,
                                                   int *error_number) {
    struct sockaddr_storage storage;
    memset(&storage, 0, sizeof(storage));
    unsigned int flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&storage;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&storage;
    if (inet_pton(AF_INET, address, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
    } else if (inet_pton(AF_INET6, address, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        flags |= MHD_USE_IPv6;
    } else {
        *error_number = EINVAL;
        return NULL;
    }
    errno = 0;
    struct MHD_Daemon *daemon = MHD_start_daemon(
        flags, port, NULL, NULL, handler, handler_cls,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&storage,
        MHD_OPTION_CONNECTION_LIMIT, connection_limit,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip_limit,
        MHD_OPTION_CONNECTION_TIMEOUT, timeout_seconds,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, memory_limit,
        MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
        MHD_OPTION_URI_LOG_CALLBACK, metrika_mhd_copy_uri, NULL,
        MHD_OPTION_NOTIFY_COMPLETED, metrika_mhd_request_completed, NULL,
        MHD_OPTION_END);
    *error_number = daemon == NULL ? (errno != 0 ? errno : EIO) : 0;
    return daemon;
}

/// The port the daemon listens on (the real one when it was started with port 0); 0 when unknown.
/// MHD_get_daemon_info is variadic (unavailable in Swift).
static inline uint16_t metrika_mhd_bound_port(struct MHD_Daemon *daemon) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info == NULL ? 0 : info->port;
}

#endif
