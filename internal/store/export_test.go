package store

// SetCopyLimits shrinks copyIntoEmpty's filter and held rows for a test,
// and returns a function that restores them.
func SetCopyLimits(bloomBits, heldMax int) (restore func()) {
	b, h := copyBloomBits, copyHeldMax
	copyBloomBits, copyHeldMax = bloomBits, heldMax
	return func() { copyBloomBits, copyHeldMax = b, h }
}
