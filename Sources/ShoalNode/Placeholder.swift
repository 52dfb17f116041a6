// ShoalNode
