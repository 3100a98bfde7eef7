//go:build !unix

package signer

import "time"

func processCPUTime() time.Duration { return 0 }
