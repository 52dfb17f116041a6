import ShoalCore

/// What a ``RoutingTable`` asks its shell to do. The shell performs the I/O and reports back
/// through the table's `on…` methods.
public enum RoutingDirective: Hashable, Sendable {
    /// The bucket `candidate` belongs to is full. Ping `old`, its least recently seen entry, and report
    /// the outcome with ``RoutingTable/onPingResult(_:alive:now:)`` for `old`: alive keeps `old`
    /// (as most recently seen; `candidate` waits in the replacement cache), dead evicts it and admits
    /// the best replacement (normally `candidate`).
    case pingToEvict(old: Contact, candidate: Contact)

    /// `contact` was heard of but has never answered, and its bucket has room. Ping it and report the
    /// outcome with ``RoutingTable/onPingResult(_:alive:now:)``: alive admits it.
    case verify(Contact)

    /// Bucket `bucket` has not been touched for the refresh interval. Run a node lookup for `target`
    /// (a random key in that bucket's range), feed the answers to the table as usual, then call
    /// ``RoutingTable/onLookupCompleted(target:now:)``.
    case refresh(bucket: Int, target: Key256)
}
