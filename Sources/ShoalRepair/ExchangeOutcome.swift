import ShoalCore

/// What one exchange found: how the peer's records in the compared ranges differ from this
/// node's. Outside the listed differences (and the ``unexplored`` ranges), the two hold the same
/// records.
public struct ExchangeOutcome: Hashable, Sendable {
    /// The peer.
    public var peer: NodeID
    /// The horizon both sides compared at.
    public var horizon: TombstoneHorizon
    /// The ranges the session was asked to compare (normalized: sorted, none nested in another).
    public var ranges: [KeyRange]
    /// This node's records that the peer has no record of.
    public var peerLacks: [ObjectRecord] = []
    /// Ranges where the peer holds no record at all: every record this node has there is missing
    /// on the peer (not listed one by one; ``peerLacksRangeRecords`` counts them).
    public var peerLacksRanges: [KeyRange] = []
    /// Records this node held in ``peerLacksRanges`` when compared.
    public var peerLacksRangeRecords: Int = 0
    /// The peer's records that this node has no record of.
    public var weLack: [ObjectRecord] = []
    /// Objects both have a record of, with different digests.
    public var differing: [RecordDifference] = []
    /// Parts of ``ranges`` not compared (session bounds reached, or answers contradicting the
    /// peer's earlier ones): no evidence either way; compare them again.
    public var unexplored: [KeyRange] = []
    /// Requests the session sent (one round trip each).
    public var requests: Int = 0
    /// Estimated bytes of those requests and their answers (``ExchangeWireSize``).
    public var bytes: Int = 0

    /// Creates an empty outcome.
    public init(peer: NodeID, horizon: TombstoneHorizon, ranges: [KeyRange]) {
        self.peer = peer
        self.horizon = horizon
        self.ranges = ranges
    }

    /// Whether every range was compared.
    public var isComplete: Bool { unexplored.isEmpty }

    /// Records listed as differences (``peerLacks``, ``weLack`` and ``differing``).
    public var differenceCount: Int { peerLacks.count + weLack.count + differing.count }

    /// Whether the two sides were found to hold the same records in every range.
    public var isIdentical: Bool { isComplete && differenceCount == 0 && peerLacksRanges.isEmpty }
}
