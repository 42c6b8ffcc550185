package msgstore

// OpenEmbeddedFolding opens an embedded store whose journal folds a room
// at perRoom journaled messages and the whole journal at foldAt entries, and
// whose rooms skip the journal after directAt appends in a transaction (0
// never), so that tests see messages in msgs and in the journal side by side.
func OpenEmbeddedFolding(path string, opts EmbeddedOptions, perRoom, foldAt, directAt int) (*Embedded, error) {
	return openEmbedded(path, opts, journalLimits{perRoom: perRoom, foldAt: foldAt, directAt: directAt})
}
