// ShoalRepair
