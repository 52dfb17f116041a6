import Hummingbird
import HummingbirdCore
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTPTypes

/// Bounds the API's connections so that idle or slow clients cannot hold every slot (or every
/// descriptor): at most `maximumConnections` are open; a new one beyond that evicts the connection
/// that has been idle longest (never one in the middle of a request), and is itself refused (503)
/// when every connection is busy. A new connection must send its first request head within
/// `headTimeout`, so one that trickles bytes cannot linger; a kept-alive connection may wait
/// ``keepAliveTimeout`` for its next request, longer than HTTP clients keep idle connections
/// pooled (60 s for AsyncHTTPClient), so that a client never reuses a connection the API is
/// closing at that moment. Idle connections are the first evicted at the limit either way.
final class APIConnectionLimiter: Sendable {
    let maximumConnections: Int
    let headTimeout: TimeAmount
    /// How long a connection that finished a request may wait for the next one.
    static let keepAliveTimeout: TimeAmount = .seconds(75)

    private struct Entry {
        var channel: any Channel
        var busy: Bool
        var lastActive: NIODeadline
    }

    private struct State {
        var connections: [ObjectIdentifier: Entry] = [:]
        var evicted = 0
        var refused = 0
    }

    private let state = NIOLockedValueBox(State())

    init(maximumConnections: Int, headTimeout: TimeAmount) {
        self.maximumConnections = max(1, maximumConnections)
        self.headTimeout = headTimeout
    }

    /// Open connections, and how many were evicted or refused so far.
    var statistics: (open: Int, evicted: Int, refused: Int) {
        state.withLockedValue { ($0.connections.count, $0.evicted, $0.refused) }
    }

    /// A handler for one new connection's pipeline.
    func makeHandler() -> APIConnectionHandler { APIConnectionHandler(limiter: self) }

    /// Admits `channel`, evicting the longest-idle connection if the limit is reached.
    /// - Returns: `false` when every open connection is busy (refuse this one).
    func admit(_ channel: any Channel) -> Bool {
        let victim: (any Channel)? = state.withLockedValue { state in
            var victim: (any Channel)?
            if state.connections.count >= maximumConnections {
                guard
                    let idle = state.connections.filter({ !$0.value.busy }).min(by: {
                        $0.value.lastActive < $1.value.lastActive
                    })
                else {
                    state.refused += 1
                    return nil
                }
                state.connections[idle.key] = nil
                state.evicted += 1
                victim = idle.value.channel
            }
            state.connections[ObjectIdentifier(channel)] = Entry(channel: channel, busy: false, lastActive: .now())
            return victim
        }
        guard state.withLockedValue({ $0.connections[ObjectIdentifier(channel)] != nil }) else { return false }
        victim?.close(promise: nil)
        return true
    }

    func mark(_ channel: any Channel, busy: Bool) {
        state.withLockedValue { state in
            let key = ObjectIdentifier(channel)
            guard var entry = state.connections[key] else { return }
            entry.busy = busy
            entry.lastActive = .now()
            state.connections[key] = entry
        }
    }

    func remove(_ channel: any Channel) {
        _ = state.withLockedValue { $0.connections.removeValue(forKey: ObjectIdentifier(channel)) }
    }
}

/// The per-connection half of ``APIConnectionLimiter``: sits after the HTTP decoder, marks the
/// connection busy from a request's head to its end, and closes it when no head arrives in time.
final class APIConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let limiter: APIConnectionLimiter
    private var timer: Scheduled<Void>?
    private var refused = false

    init(limiter: APIConnectionLimiter) {
        self.limiter = limiter
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    private func start(_ context: ChannelHandlerContext) {
        guard timer == nil, !refused else { return }
        guard limiter.admit(context.channel) else {
            refused = true
            context.close(promise: nil)
            return
        }
        armHeadTimer(context, after: limiter.headTimeout)
    }

    private func armHeadTimer(_ context: ChannelHandlerContext, after timeout: TimeAmount) {
        timer?.cancel()
        let channel = context.channel
        timer = context.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) {
            timer?.cancel()
            timer = nil
            limiter.mark(context.channel, busy: true)
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            let channel = context.channel
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let done = promise ?? context.eventLoop.makePromise()
            done.futureResult.whenComplete { [limiter] _ in
                limiter.mark(channel, busy: false)
                let (handler, context) = loopBound.value
                if channel.isActive { handler.armHeadTimer(context, after: APIConnectionLimiter.keepAliveTimeout) }
            }
            context.write(data, promise: done)
            return
        }
        context.write(data, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        limiter.remove(context.channel)
        context.fireChannelInactive()
    }
}
