package store

import "testing"

func TestNew(t *testing.T) { New() }
