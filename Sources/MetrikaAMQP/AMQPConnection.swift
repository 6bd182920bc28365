import CRabbitMQ
import Foundation

/// TLS settings for `amqps://` URLs. Peer and hostname verification are always on.
public struct AMQPTLSSettings: Sendable, Equatable {
    /// PEM file of the certificate authorities to trust (rabbitmq-c cannot read the system store).
    public var caFile: String?
    /// Client certificate and key for mutual TLS, both PEM.
    public var certificateFile: String?
    public var keyFile: String?

    public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }
}

/// How to open a connection.
public struct AMQPConnectionSettings: Sendable {
    public var url: AMQPURL
    public var tls: AMQPTLSSettings
    /// Heartbeat interval proposed to the broker, seconds. Default 30.
    public var heartbeatSeconds: Int
    /// Bound on socket connect, login and every synchronous RPC, milliseconds. Default 10 000.
    public var operationTimeoutMilliseconds: Int
    /// Connection name shown in the management UI.
    public var connectionName: String

    public init(url: AMQPURL, tls: AMQPTLSSettings = AMQPTLSSettings(), heartbeatSeconds: Int = 30,
                operationTimeoutMilliseconds: Int = 10_000, connectionName: String = "metrika") {
        self.url = url
        self.tls = tls
        self.heartbeatSeconds = heartbeatSeconds
        self.operationTimeoutMilliseconds = operationTimeoutMilliseconds
        self.connectionName = connectionName
    }
}

/// A message taken from a queue, copied out of rabbitmq-c's buffers.
public struct AMQPDelivery: Sendable {
    public let deliveryTag: UInt64
    public let consumerTag: String
    public let exchange: String
    public let routingKey: String
    public let redelivered: Bool
    public let body: Data
    public let messageID: String?
    public let correlationID: String?
    public let replyTo: String?
    public let contentType: String?
    public let contentEncoding: String?
    /// Header entries the gateway can read (strings, integers, booleans, nested tables); others are skipped.
    public let headers: [String: AMQPFieldValue]
}

/// Properties of a message to publish. Messages are always persistent (`delivery_mode` 2).
public struct AMQPMessageProperties: Sendable {
    public var messageID: String?
    public var correlationID: String?
    /// Queue the receiver should answer to (RPC).
    public var replyTo: String?
    public var contentType: String
    public var headers: [(String, AMQPFieldValue)]

    public init(messageID: String? = nil, correlationID: String? = nil, replyTo: String? = nil,
                contentType: String = "application/json", headers: [(String, AMQPFieldValue)] = []) {
        self.messageID = messageID
        self.correlationID = correlationID
        self.replyTo = replyTo
        self.contentType = contentType
        self.headers = headers
    }
}

/// A publisher confirm from the broker.
public struct AMQPConfirm: Sendable, Equatable {
    /// Sequence number of the confirmed publish (or the highest one, when `multiple`).
    public let deliveryTag: UInt64
    /// Whether every publish up to `deliveryTag` is confirmed.
    public let multiple: Bool
    /// False when the broker refused the message (`basic.nack`).
    public let acknowledged: Bool
}

/// One AMQP 0-9-1 connection with one channel (number 1), owning its rabbitmq-c state.
///
/// Not thread-safe: open, use and close it on one thread. rabbitmq-c services heartbeats only inside
/// its calls, so the owner must call `nextDelivery` or `waitForConfirms` at least every heartbeat.
public final class AMQPConnection {
    private var state: amqp_connection_state_t?
    private let channel: amqp_channel_t = 1
    private var nextPublishSequence: UInt64 = 1
    private var blocked = false

    /// Opens the socket, logs in (advertising capabilities), and opens channel 1.
    public init(_ settings: AMQPConnectionSettings) throws(AMQPError) {
        guard let state = amqp_new_connection() else { throw AMQPError(.connectFailed, "out of memory") }
        self.state = state
        do {
            try open(settings)
        } catch {
            amqp_destroy_connection(state)
            self.state = nil
            throw error
        }
    }

    deinit {
        assert(state == nil, "AMQPConnection deallocated without close()")
    }

    /// Whether the broker has blocked publishing (memory or disk alarm).
    public var isBlocked: Bool { blocked }

    private func open(_ settings: AMQPConnectionSettings) throws(AMQPError) {
        let url = settings.url
        let socket: OpaquePointer?
        if url.useTLS {
            socket = amqp_ssl_socket_new(state)
            guard let socket else { throw AMQPError(.tlsFailed, "cannot create a TLS socket") }
            amqp_ssl_socket_set_verify_peer(socket, 1)
            amqp_ssl_socket_set_verify_hostname(socket, 1)
            guard let caFile = settings.tls.caFile else {
                throw AMQPError(.tlsFailed, "amqps:// needs a CA file (METRIKA_AMQP_CA_FILE): rabbitmq-c cannot read the system store")
            }
            guard amqp_ssl_socket_set_cacert(socket, caFile) == AMQP_STATUS_OK.rawValue else {
                throw AMQPError(.tlsFailed, "cannot read the CA file '\(caFile)'")
            }
            if let certificate = settings.tls.certificateFile, let key = settings.tls.keyFile,
               amqp_ssl_socket_set_key(socket, certificate, key) != AMQP_STATUS_OK.rawValue {
                throw AMQPError(.tlsFailed, "cannot read the client certificate '\(certificate)' or key '\(key)'")
            }
        } else {
            socket = amqp_tcp_socket_new(state)
        }
        guard let socket else { throw AMQPError(.connectFailed, "cannot create a socket") }
        let timeout = Int32(settings.operationTimeoutMilliseconds)
        let status = metrika_amqp_socket_open(socket, url.host, Int32(url.port), timeout)
        guard status == AMQP_STATUS_OK.rawValue else {
            let reason = String(cString: amqp_error_string2(status))
            let code: AMQPError.Code = status <= AMQP_STATUS_SSL_ERROR.rawValue && status > _AMQP_STATUS_SSL_NEXT_VALUE.rawValue
                ? .tlsFailed : .connectFailed
            throw AMQPError(code, "cannot connect to \(url.host):\(url.port): \(reason)")
        }
        metrika_amqp_set_rpc_timeout(state, timeout)
        _ = metrika_amqp_set_send_timeout(state, timeout)

        var storage = AMQPTableStorage()
        defer { storage.release() }
        var properties = storage.table([
            ("product", .string("metrika-gateway")),
            ("connection_name", .string(settings.connectionName)),
            ("capabilities", .table([
                ("publisher_confirms", .bool(true)),
                ("consumer_cancel_notify", .bool(true)),
                ("connection.blocked", .bool(true)),
                ("basic.nack", .bool(true)),
                ("authentication_failure_close", .bool(true)),
            ])),
        ])
        let reply = metrika_amqp_login_plain(state, url.virtualHost, 0, 131_072, Int32(settings.heartbeatSeconds),
                                             &properties, url.user, url.password)
        guard reply.reply_type == AMQP_RESPONSE_NORMAL else {
            throw AMQPError(.loginFailed, "cannot log in to \(url.host):\(url.port) vhost '\(url.virtualHost)' as '\(url.user)': "
                + describe(reply) + " (check the user, the password and the vhost permissions)")
        }
        amqp_channel_open(state, channel)
        try check(amqp_get_rpc_reply(state), "opening channel 1")
    }

    /// Closes the channel and the connection politely (bounded by the RPC timeout) and frees the state.
    public func close() {
        guard let state else { return }
        _ = amqp_channel_close(state, channel, Int32(AMQP_REPLY_SUCCESS))
        _ = amqp_connection_close(state, Int32(AMQP_REPLY_SUCCESS))
        amqp_destroy_connection(state)
        self.state = nil
    }

    /// Frees the state without talking to the broker (after the connection failed).
    public func abandon() {
        guard let state else { return }
        amqp_destroy_connection(state)
        self.state = nil
    }

    // MARK: Topology

    /// Declares a durable exchange (idempotent when the type matches).
    public func declareExchange(_ name: String, type: String = "topic") throws(AMQPError) {
        var storage = AMQPTableStorage()
        defer { storage.release() }
        amqp_exchange_declare(state, channel, storage.bytes(name), storage.bytes(type), 0, 1, 0, 0, amqp_empty_table)
        try check(amqp_get_rpc_reply(state), "declaring exchange '\(name)'")
    }

    /// Declares a durable queue with arguments (idempotent when the arguments match).
    public func declareQueue(_ name: String, arguments: [(String, AMQPFieldValue)] = []) throws(AMQPError) {
        var storage = AMQPTableStorage()
        defer { storage.release() }
        amqp_queue_declare(state, channel, storage.bytes(name), 0, 1, 0, 0, storage.table(arguments))
        try check(amqp_get_rpc_reply(state), "declaring queue '\(name)'")
    }

    /// Declares a server-named, exclusive, auto-delete queue and returns its name.
    public func declareTemporaryQueue() throws(AMQPError) -> String {
        let ok = amqp_queue_declare(state, channel, amqp_empty_bytes, 0, 0, 1, 1, amqp_empty_table)
        try check(amqp_get_rpc_reply(state), "declaring a temporary queue")
        return ok?.pointee.queue.string ?? ""
    }

    /// Binds a queue to an exchange.
    public func bindQueue(_ queue: String, exchange: String, routingKey: String) throws(AMQPError) {
        var storage = AMQPTableStorage()
        defer { storage.release() }
        amqp_queue_bind(state, channel, storage.bytes(queue), storage.bytes(exchange),
                        storage.bytes(routingKey), amqp_empty_table)
        try check(amqp_get_rpc_reply(state), "binding queue '\(queue)' to '\(exchange)' with '\(routingKey)'")
    }

    /// Removes every ready message of a queue (used by tools). RabbitMQ 3.10 refuses to delete a quorum queue
    /// holding a few hundred thousand messages (541 INTERNAL_ERROR, closing the connection); after a purge
    /// the delete takes milliseconds.
    public func purgeQueue(_ name: String) throws(AMQPError) {
        var storage = AMQPTableStorage()
        defer { storage.release() }
        amqp_queue_purge(state, channel, storage.bytes(name))
        try check(amqp_get_rpc_reply(state), "purging queue '\(name)'")
    }

    /// Deletes a queue (used by tests and tools).
    public func deleteQueue(_ name: String) throws(AMQPError) {
        var storage = AMQPTableStorage()
        defer { storage.release() }
        amqp_queue_delete(state, channel, storage.bytes(name), 0, 0)
        try check(amqp_get_rpc_reply(state), "deleting queue '\(name)'")
    }

    /// Deletes an exchange (used by tests and tools).
    public func deleteExchange(_ name: String) throws(AMQPError) {
        var storage = AMQPTableStorage()
        defer { storage.release() }
        amqp_exchange_delete(state, channel, storage.bytes(name), 0)
        try check(amqp_get_rpc_reply(state), "deleting exchange '\(name)'")
    }

    // MARK: Consuming

    /// Limits unacknowledged deliveries on the channel.
    public func setPrefetch(_ count: UInt16) throws(AMQPError) {
        amqp_basic_qos(state, channel, 0, count, 0)
        try check(amqp_get_rpc_reply(state), "setting prefetch \(count)")
    }

    /// Starts consuming with manual acknowledgements; returns the consumer tag.
    @discardableResult
    public func consume(queue: String, consumerTag: String) throws(AMQPError) -> String {
        var storage = AMQPTableStorage()
        defer { storage.release() }
        amqp_basic_consume(state, channel, storage.bytes(queue), storage.bytes(consumerTag), 0, 0, 0, amqp_empty_table)
        try check(amqp_get_rpc_reply(state), "consuming from '\(queue)'")
        return consumerTag
    }

    /// Waits up to `timeoutMilliseconds` for a delivery; nil on timeout. Services heartbeats while waiting.
    /// Throws when the connection or channel is gone, or the broker cancelled a consumer.
    ///
    /// The delivery is assembled from its frames here rather than by `amqp_consume_message`, which clones
    /// the properties and fails (leaving the body frames unread, so the connection must be dropped) on a
    /// header table the broker accepted but rabbitmq-c refuses to copy, such as one with an empty field
    /// name. Reading the decoded frames directly also saves a copy of every body.
    public func nextDelivery(timeoutMilliseconds: Int) throws(AMQPError) -> AMQPDelivery? {
        amqp_maybe_release_buffers(state)
        guard let frame = try nextFrame(timeoutMilliseconds: Int32(timeoutMilliseconds)) else { return nil }
        guard frame.frame_type == UInt8(AMQP_FRAME_METHOD), frame.payload.method.id == AMQP_BASIC_DELIVER_METHOD else {
            try handleMethodFrame(frame)
            return nil
        }
        let deliver = frame.payload.method.decoded.assumingMemoryBound(to: amqp_basic_deliver_t.self).pointee
        let header = try nextContentFrame(on: frame.channel, type: AMQP_FRAME_HEADER)
        guard header.payload.properties.class_id == AMQP_BASIC_CLASS else {
            throw AMQPError(.protocolError, "a delivery's content header is not of the basic class")
        }
        let properties = header.payload.properties.decoded.assumingMemoryBound(to: amqp_basic_properties_t.self).pointee
        let bodySize = header.payload.properties.body_size
        var body = Data()
        body.reserveCapacity(Int(min(bodySize, 1 << 20)))
        while UInt64(body.count) < bodySize {
            let fragment = try nextContentFrame(on: frame.channel, type: AMQP_FRAME_BODY).payload.body_fragment
            guard UInt64(body.count) + UInt64(fragment.len) <= bodySize else {
                throw AMQPError(.protocolError, "a delivery's body frames are longer than its header announced")
            }
            if fragment.len > 0, let bytes = fragment.bytes {
                body.append(bytes.assumingMemoryBound(to: UInt8.self), count: fragment.len)
            }
        }
        func property(_ flag: Int32, _ bytes: amqp_bytes_t) -> String? {
            properties._flags & amqp_flags_t(flag) != 0 ? bytes.string : nil
        }
        return AMQPDelivery(
            deliveryTag: deliver.delivery_tag,
            consumerTag: deliver.consumer_tag.string ?? "",
            exchange: deliver.exchange.string ?? "",
            routingKey: deliver.routing_key.string ?? "",
            redelivered: deliver.redelivered != 0,
            body: body,
            messageID: property(AMQP_BASIC_MESSAGE_ID_FLAG, properties.message_id),
            correlationID: property(AMQP_BASIC_CORRELATION_ID_FLAG, properties.correlation_id),
            replyTo: property(AMQP_BASIC_REPLY_TO_FLAG, properties.reply_to),
            contentType: property(AMQP_BASIC_CONTENT_TYPE_FLAG, properties.content_type),
            contentEncoding: property(AMQP_BASIC_CONTENT_ENCODING_FLAG, properties.content_encoding),
            headers: properties._flags & amqp_flags_t(AMQP_BASIC_HEADERS_FLAG) != 0 ? properties.headers.swiftValues(depth: 0) : [:])
    }

    /// The next frame within `timeoutMilliseconds` (negative: no limit but the heartbeat's); nil on timeout.
    /// The frame's decoded payload lives in rabbitmq-c's buffers until the next `amqp_maybe_release_buffers`.
    private func nextFrame(timeoutMilliseconds: Int32) throws(AMQPError) -> amqp_frame_t? {
        var frame = amqp_frame_t()
        let status = timeoutMilliseconds < 0 ? amqp_simple_wait_frame(state, &frame)
                                             : metrika_amqp_wait_frame(state, &frame, timeoutMilliseconds)
        if status == AMQP_STATUS_TIMEOUT.rawValue { return nil }
        guard status == AMQP_STATUS_OK.rawValue else {
            let reason = String(cString: amqp_error_string2(status))
            if AMQPConnection.undecodable.contains(status) {
                throw AMQPError(.protocolError, "a frame could not be decoded (hostile properties or headers?): \(reason)")
            }
            throw AMQPError(.connectionLost, "while consuming: \(reason)")
        }
        return frame
    }

    /// The next content frame of the delivery being read on `channel`. Content follows its method at once,
    /// so this waits without a timeout of its own: a silent peer is detected by the missed heartbeats.
    /// Method frames on other channels (connection.blocked, close) are handled on the way.
    private func nextContentFrame(on channel: amqp_channel_t, type: Int32) throws(AMQPError) -> amqp_frame_t {
        while true {
            guard let frame = try nextFrame(timeoutMilliseconds: -1) else { continue }
            if frame.frame_type == UInt8(type), frame.channel == channel { return frame }
            guard frame.frame_type == UInt8(AMQP_FRAME_METHOD) else {
                throw AMQPError(.protocolError, "a delivery's content frames arrived out of order")
            }
            try handleMethodFrame(frame)
            if frame.channel == channel {
                throw AMQPError(.protocolError, "a method frame interrupted a delivery's content")
            }
        }
    }

    /// Library errors meaning a received frame could not be decoded.
    private static let undecodable: Set<Int32> = [
        AMQP_STATUS_BAD_AMQP_DATA.rawValue, AMQP_STATUS_UNKNOWN_CLASS.rawValue, AMQP_STATUS_UNKNOWN_METHOD.rawValue,
        AMQP_STATUS_INVALID_PARAMETER.rawValue, AMQP_STATUS_TABLE_TOO_BIG.rawValue,
    ]

    /// Reacts to a method frame that is not a delivery; returns a confirm when it is one.
    @discardableResult
    private func handleMethodFrame(_ frame: amqp_frame_t) throws(AMQPError) -> AMQPConfirm? {
        guard frame.frame_type == UInt8(AMQP_FRAME_METHOD) else { return nil }
        let method = frame.payload.method
        switch method.id {
        case AMQP_BASIC_ACK_METHOD:
            let ack = method.decoded.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
            return AMQPConfirm(deliveryTag: ack.delivery_tag, multiple: ack.multiple != 0, acknowledged: true)
        case AMQP_BASIC_NACK_METHOD:
            let nack = method.decoded.assumingMemoryBound(to: amqp_basic_nack_t.self).pointee
            return AMQPConfirm(deliveryTag: nack.delivery_tag, multiple: nack.multiple != 0, acknowledged: false)
        case AMQP_BASIC_RETURN_METHOD:
            // Returned unroutable message: its content frames follow; read and drop them.
            var message = amqp_message_t()
            let reply = amqp_read_message(state, frame.channel, &message, 0)
            if reply.reply_type == AMQP_RESPONSE_NORMAL { amqp_destroy_message(&message) }
            return nil
        case AMQP_BASIC_CANCEL_METHOD:
            let cancel = method.decoded.assumingMemoryBound(to: amqp_basic_cancel_t.self).pointee
            throw AMQPError(.consumerCancelled, "the broker cancelled consumer '\(cancel.consumer_tag.string ?? "")' (queue deleted or node down)")
        case AMQP_CHANNEL_CLOSE_METHOD:
            let close = method.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
            var ok = amqp_channel_close_ok_t(dummy: 0)
            amqp_send_method(state, frame.channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok)
            throw AMQPError(.channelClosed, "the broker closed the channel: \(close.reply_code) \(close.reply_text.string ?? "")")
        case AMQP_CONNECTION_CLOSE_METHOD:
            let close = method.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            var ok = amqp_connection_close_ok_t(dummy: 0)
            amqp_send_method(state, frame.channel, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok)
            throw AMQPError(.connectionLost, "the broker closed the connection: \(close.reply_code) \(close.reply_text.string ?? "")")
        case AMQP_CONNECTION_BLOCKED_METHOD:
            blocked = true
            return nil
        case AMQP_CONNECTION_UNBLOCKED_METHOD:
            blocked = false
            return nil
        default:
            return nil
        }
    }

    /// Acknowledges one delivery, or every delivery up to it when `multiple`.
    public func ack(deliveryTag: UInt64, multiple: Bool) throws(AMQPError) {
        let status = amqp_basic_ack(state, channel, deliveryTag, multiple ? 1 : 0)
        guard status == AMQP_STATUS_OK.rawValue else {
            throw AMQPError(.connectionLost, "cannot acknowledge: \(String(cString: amqp_error_string2(status)))")
        }
    }

    /// Returns deliveries up to `deliveryTag` to the queue (`requeue`) or drops them.
    public func nack(deliveryTag: UInt64, multiple: Bool, requeue: Bool) throws(AMQPError) {
        let status = amqp_basic_nack(state, channel, deliveryTag, multiple ? 1 : 0, requeue ? 1 : 0)
        guard status == AMQP_STATUS_OK.rawValue else {
            throw AMQPError(.connectionLost, "cannot reject: \(String(cString: amqp_error_string2(status)))")
        }
    }

    /// Sends a heartbeat frame, so the broker keeps the connection while the owner is busy elsewhere
    /// (e.g. retrying a database commit) and cannot wait for frames.
    public func sendHeartbeat() throws(AMQPError) {
        var frame = amqp_frame_t()
        frame.frame_type = UInt8(AMQP_FRAME_HEARTBEAT)
        frame.channel = 0
        let status = amqp_send_frame(state, &frame)
        guard status == AMQP_STATUS_OK.rawValue else {
            throw AMQPError(.connectionLost, "cannot send a heartbeat: \(String(cString: amqp_error_string2(status)))")
        }
    }

    // MARK: Publishing

    /// Puts the channel in confirm mode; publish sequence numbers restart at 1.
    public func enableConfirms() throws(AMQPError) {
        amqp_confirm_select(state, channel)
        try check(amqp_get_rpc_reply(state), "enabling publisher confirms")
        nextPublishSequence = 1
    }

    /// Publishes a persistent message; returns its confirm sequence number (meaningful in confirm mode).
    @discardableResult
    public func publish(exchange: String, routingKey: String, body: Data, properties: AMQPMessageProperties) throws(AMQPError) -> UInt64 {
        var storage = AMQPTableStorage()
        defer { storage.release() }
        var props = amqp_basic_properties_t()
        var flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG
        props.delivery_mode = 2
        props.content_type = storage.bytes(properties.contentType)
        if let messageID = properties.messageID {
            flags |= AMQP_BASIC_MESSAGE_ID_FLAG
            props.message_id = storage.bytes(messageID)
        }
        if let correlationID = properties.correlationID {
            flags |= AMQP_BASIC_CORRELATION_ID_FLAG
            props.correlation_id = storage.bytes(correlationID)
        }
        if let replyTo = properties.replyTo {
            flags |= AMQP_BASIC_REPLY_TO_FLAG
            props.reply_to = storage.bytes(replyTo)
        }
        if !properties.headers.isEmpty {
            flags |= AMQP_BASIC_HEADERS_FLAG
            props.headers = storage.table(properties.headers)
        }
        props._flags = amqp_flags_t(flags)
        let status = body.withUnsafeBytes { raw in
            amqp_basic_publish(state, channel, storage.bytes(exchange), storage.bytes(routingKey), 0, 0, &props,
                               amqp_bytes_t(len: raw.count, bytes: UnsafeMutableRawPointer(mutating: raw.baseAddress)))
        }
        guard status == AMQP_STATUS_OK.rawValue else {
            throw AMQPError(.connectionLost, "cannot publish to '\(exchange)': \(String(cString: amqp_error_string2(status)))")
        }
        defer { nextPublishSequence += 1 }
        return nextPublishSequence
    }

    /// Reads publisher confirms that arrive within `timeoutMilliseconds` (returns early once one arrives
    /// and no more are buffered). Services heartbeats.
    public func waitForConfirms(timeoutMilliseconds: Int) throws(AMQPError) -> [AMQPConfirm] {
        var confirms: [AMQPConfirm] = []
        var wait = Int32(timeoutMilliseconds)
        while true {
            var frame = amqp_frame_t()
            let status = metrika_amqp_wait_frame(state, &frame, wait)
            if status == AMQP_STATUS_TIMEOUT.rawValue { return confirms }
            guard status == AMQP_STATUS_OK.rawValue else {
                throw AMQPError(.connectionLost, "while waiting for confirms: \(String(cString: amqp_error_string2(status)))")
            }
            if let confirm = try handleMethodFrame(frame) { confirms.append(confirm) }
            if !confirms.isEmpty {
                if amqp_frames_enqueued(state) == 0 && amqp_data_in_buffer(state) == 0 { return confirms }
                wait = 0
            }
        }
    }

    // MARK: Errors

    private func check(_ reply: amqp_rpc_reply_t, _ doing: String) throws(AMQPError) {
        guard reply.reply_type != AMQP_RESPONSE_NORMAL else { return }
        if reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION, reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD {
            var ok = amqp_channel_close_ok_t(dummy: 0)
            amqp_send_method(state, channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok)
            throw AMQPError(.channelClosed, "\(doing): \(describe(reply))")
        }
        if reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION, reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD {
            var ok = amqp_connection_close_ok_t(dummy: 0)
            amqp_send_method(state, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok)
        }
        if reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION, reply.library_error == AMQP_STATUS_TIMEOUT.rawValue {
            throw AMQPError(.timeout, "\(doing): the broker did not answer in time")
        }
        throw AMQPError(.connectionLost, "\(doing): \(describe(reply))")
    }

    private func describe(_ reply: amqp_rpc_reply_t) -> String {
        switch reply.reply_type {
        case AMQP_RESPONSE_NONE:
            return "no reply from the broker"
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            return String(cString: amqp_error_string2(reply.library_error))
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            switch reply.reply.id {
            case AMQP_CONNECTION_CLOSE_METHOD:
                let close = reply.reply.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
                return "broker closed the connection: \(close.reply_code) \(close.reply_text.string ?? "")"
            case AMQP_CHANNEL_CLOSE_METHOD:
                let close = reply.reply.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
                return "broker closed the channel: \(close.reply_code) \(close.reply_text.string ?? "")"
            default:
                return "unexpected broker method \(reply.reply.id)"
            }
        default:
            return "unknown reply"
        }
    }
}
