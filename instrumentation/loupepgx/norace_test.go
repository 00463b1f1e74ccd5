//go:build !race

package loupepgx_test

const raceEnabled = false
