// ShoalMembership
