"""autorec's controller: settings, channel state, slots, rate limit, policies, jobs, Agora client."""
