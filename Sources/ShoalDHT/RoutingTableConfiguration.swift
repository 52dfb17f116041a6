extension RoutingTable {
    /// Tunables of a ``RoutingTable``. The defaults follow the Kademlia paper and libp2p.
    public struct Configuration: Hashable, Sendable {
        /// K: the maximum number of contacts per bucket.
        public var bucketSize: Int
        /// The maximum number of waiting contacts per bucket.
        public var replacementCacheSize: Int
        /// A bucket not touched for this long produces a ``RoutingDirective/refresh(bucket:target:)``.
        public var refreshInterval: Duration
        /// At most this many contacts of one ``IPGroup`` per bucket.
        public var maxPerGroupInBucket: Int
        /// At most this many contacts of one ``IPGroup`` in the whole table.
        public var maxPerGroupInTable: Int
        /// A contact is removed after this many consecutive failures even when no replacement waits
        /// (with a replacement waiting, one failure suffices).
        public var failuresBeforeRemoval: Int
        /// While a ``RoutingDirective/pingToEvict(old:candidate:)`` is outstanding for a bucket, no other
        /// is issued for it until this much time has passed.
        public var evictionPingTimeout: Duration
        /// A heard-of contact is asked to be verified at most once per this interval.
        public var verifyInterval: Duration

        /// - Parameters:
        ///   - bucketSize: K, default 20.
        ///   - replacementCacheSize: default equal to `bucketSize`.
        ///   - refreshInterval: default one hour.
        ///   - maxPerGroupInBucket: default 2 (libp2p).
        ///   - maxPerGroupInTable: default 3 (libp2p).
        ///   - failuresBeforeRemoval: default 3.
        ///   - evictionPingTimeout: default 30 seconds.
        ///   - verifyInterval: default 5 minutes.
        public init(
            bucketSize: Int = 20,
            replacementCacheSize: Int? = nil,
            refreshInterval: Duration = .seconds(3600),
            maxPerGroupInBucket: Int = 2,
            maxPerGroupInTable: Int = 3,
            failuresBeforeRemoval: Int = 3,
            evictionPingTimeout: Duration = .seconds(30),
            verifyInterval: Duration = .seconds(300)
        ) {
            precondition(bucketSize > 0, "bucketSize must be positive")
            self.bucketSize = bucketSize
            self.replacementCacheSize = max(0, replacementCacheSize ?? bucketSize)
            self.refreshInterval = refreshInterval
            self.maxPerGroupInBucket = max(1, maxPerGroupInBucket)
            self.maxPerGroupInTable = max(1, maxPerGroupInTable)
            self.failuresBeforeRemoval = max(1, failuresBeforeRemoval)
            self.evictionPingTimeout = evictionPingTimeout
            self.verifyInterval = verifyInterval
        }
    }
}
