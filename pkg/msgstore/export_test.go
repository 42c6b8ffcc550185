package msgstore

// OpenEmbeddedFolding opens an embedded store whose journal folds a room
// at perRoom journaled messages and the whole journal at foldAt entries, so
// that tests see messages in msgs and in the journal side by side.
func OpenEmbeddedFolding(path string, opts EmbeddedOptions, perRoom, foldAt int) (*Embedded, error) {
	return openEmbedded(path, opts, journalLimits{perRoom: perRoom, foldAt: foldAt})
}
