#ifndef METRIKA_CRABBITMQ_SHIM_H
#define METRIKA_CRABBITMQ_SHIM_H

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <amqp_ssl_socket.h>
#include <sys/time.h>
#include <sys/socket.h>

/// amqp_login_with_properties is variadic (unavailable in Swift): this fixes SASL PLAIN.
/// The client properties carry the capabilities table so the broker sends
/// connection.blocked/unblocked and consumer_cancel_notify.
static inline amqp_rpc_reply_t metrika_amqp_login_plain(amqp_connection_state_t state,
                                                        const char *vhost,
                                                        int channel_max,
                                                        int frame_max,
                                                        int heartbeat_seconds,
                                                        const amqp_table_t *client_properties,
                                                        const char *user,
                                                        const char *password) {
    return amqp_login_with_properties(state, vhost, channel_max, frame_max, heartbeat_seconds,
                                      client_properties, AMQP_SASL_METHOD_PLAIN, user, password);
}

/// Waits for the next frame for at most `timeout_ms` milliseconds.
static inline int metrika_amqp_wait_frame(amqp_connection_state_t state, amqp_frame_t *frame,
                                          int timeout_ms) {
    struct timeval tv;
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    return amqp_simple_wait_frame_noblock(state, frame, &tv);
}

/// Opens a socket, giving up after `timeout_ms` milliseconds.
static inline int metrika_amqp_socket_open(amqp_socket_t *socket, const char *host, int port,
                                           int timeout_ms) {
    struct timeval tv;
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    return amqp_socket_open_noblock(socket, host, port, &tv);
}

/// Sets the timeout of synchronous RPCs (declare, qos, consume…) in milliseconds.
static inline int metrika_amqp_set_rpc_timeout(amqp_connection_state_t state, int timeout_ms) {
    struct timeval tv;
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    return amqp_set_rpc_timeout(state, &tv);
}

/// Bounds a blocking socket write, so a publish to a silent peer cannot hang forever.
static inline int metrika_amqp_set_send_timeout(amqp_connection_state_t state, int timeout_ms) {
    int fd = amqp_get_sockfd(state);
    if (fd < 0) return -1;
    struct timeval tv;
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    return setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

#endif
