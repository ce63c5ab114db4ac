"""Task families. Importing this package registers each family with Gymnasium as
`arena/<family>-v0`; the families themselves load lazily, on first use."""

from arena.drivers.gym import register_families

register_families()
