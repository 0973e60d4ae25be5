"""The events stream consumer: normalize each entry and apply it to the channel state."""
