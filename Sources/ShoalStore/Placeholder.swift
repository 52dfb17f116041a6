// ShoalStore
