"""autorec's controller: settings, channel state, slots, rate limits, policies, jobs, Agora."""
