// ShoalDHT
