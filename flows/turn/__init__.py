"""The work of one event, one concern per module, each importing only the ones above it:

context (the turn's state, messages, effects, say/render) -> quoting (answers in templates)
-> schedule (check-ins to plan or cancel) -> navigation (enter, go, present, follow, end, back,
skip) -> answers (record, save, edit, entries, parsing what was typed or pressed) -> checkins (a
check-in arrives) -> crisis (help first, then pause or go on) -> dialogues (the engine's own
questions: consent, forget, language, time) -> commands (/menu, /pauze, /help, …).
`flows.engine` dispatches an event to one of them; docs/architecture.md has the map.
"""
