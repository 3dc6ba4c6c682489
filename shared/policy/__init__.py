"""The school's policy: clause map, rule catalogue, and the policy file that tunes the rules."""
