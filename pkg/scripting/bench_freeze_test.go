package scripting

func freezeForBench(v any) any { return Freeze(v) }
