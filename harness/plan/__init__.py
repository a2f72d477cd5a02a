"""Plans: the roll as data. A pure planner turns a scenario and a seed into a plan of
typed steps; the runner walks it and writes events."""
