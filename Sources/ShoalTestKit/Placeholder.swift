// ShoalTestKit
