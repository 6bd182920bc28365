/// The database schema, as an ordered list of migrations applied once each.
enum Schema {
    static let migrations: [String] = [
        """
        CREATE TABLE inbox (
            message_id TEXT PRIMARY KEY,
            type TEXT NOT NULL,
            processed_at_ms INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE subscribers (
            rs_id INTEGER PRIMARY KEY,
            version INTEGER NOT NULL,
            contract_no TEXT NOT NULL,
            full_name TEXT NOT NULL,
            address TEXT NOT NULL,
            tariff_name TEXT NOT NULL,
            tariff_since TEXT NOT NULL,
            switch TEXT NOT NULL,
            status TEXT NOT NULL,
            phones TEXT NOT NULL,
            updated_at_ms INTEGER NOT NULL
        );
        CREATE TABLE subscriber_phones (
            phone TEXT NOT NULL,
            rs_id INTEGER NOT NULL REFERENCES subscribers(rs_id),
            PRIMARY KEY (phone, rs_id)
        ) WITHOUT ROWID;
        CREATE INDEX subscriber_phones_by_rs_id ON subscriber_phones(rs_id);
        CREATE TABLE tickets (
            ticket_id TEXT PRIMARY KEY,
            state TEXT NOT NULL CHECK (state IN ('draft', 'saved')),
            kind TEXT NOT NULL,
            author TEXT,
            created_at_ms INTEGER NOT NULL,
            saved_at_ms INTEGER,
            call_id TEXT,
            contact_phone TEXT,
            match TEXT NOT NULL,
            rs_id INTEGER,
            callback_id TEXT,
            body TEXT NOT NULL
        );
        CREATE INDEX tickets_drafts_by_phone ON tickets(contact_phone) WHERE state = 'draft';
        CREATE INDEX tickets_by_rs_id ON tickets(rs_id);
        CREATE INDEX tickets_by_author ON tickets(author, created_at_ms);
        CREATE TABLE calls (
            call_id TEXT PRIMARY KEY,
            decision TEXT NOT NULL,
            ticket_id TEXT,
            decided_at_ms INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE callbacks (
            callback_id TEXT PRIMARY KEY,
            ticket_id TEXT NOT NULL REFERENCES tickets(ticket_id),
            phone TEXT NOT NULL,
            origin TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
            missed_count INTEGER NOT NULL,
            first_missed_at_ms INTEGER,
            last_missed_at_ms INTEGER,
            attempts INTEGER NOT NULL,
            opened_at_ms INTEGER NOT NULL,
            resolved_at_ms INTEGER,
            resolved_by TEXT,
            resolution TEXT
        );
        CREATE UNIQUE INDEX callbacks_one_open_per_phone ON callbacks(phone) WHERE status = 'open';
        CREATE INDEX callbacks_by_ticket ON callbacks(ticket_id);
        CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            message_id TEXT NOT NULL UNIQUE,
            exchange TEXT NOT NULL,
            routing_key TEXT NOT NULL,
            body BLOB NOT NULL,
            headers TEXT,
            correlation_id TEXT,
            created_at_ms INTEGER NOT NULL
        );
        CREATE TABLE dead_letters (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            message_id TEXT,
            error_class TEXT NOT NULL,
            error TEXT NOT NULL,
            queue TEXT NOT NULL,
            exchange TEXT NOT NULL,
            routing_key TEXT NOT NULL,
            failed_at_ms INTEGER NOT NULL
        );
        """,
        """
        ALTER TABLE callbacks ADD COLUMN overdue_at_ms INTEGER;
        CREATE INDEX callbacks_open_by_age ON callbacks(opened_at_ms) WHERE status = 'open';
        CREATE TABLE ticket_revisions (
            revision_id INTEGER PRIMARY KEY AUTOINCREMENT,
            ticket_id TEXT NOT NULL REFERENCES tickets(ticket_id),
            operator TEXT NOT NULL,
            via TEXT NOT NULL,
            edited_at_ms INTEGER NOT NULL,
            command_id TEXT NOT NULL,
            changes TEXT NOT NULL
        );
        CREATE INDEX ticket_revisions_by_ticket ON ticket_revisions(ticket_id, revision_id);
        CREATE INDEX tickets_by_created ON tickets(created_at_ms);
        CREATE INDEX tickets_by_phone ON tickets(contact_phone);
        """,
        """
        CREATE TABLE pbx_pending_calls (
            call_key TEXT PRIMARY KEY,
            legs TEXT NOT NULL,
            first_seen_at_ms INTEGER NOT NULL,
            last_leg_at_ms INTEGER,
            ended_at_ms INTEGER
        ) WITHOUT ROWID;
        """,
        // tickets_by_phone (migration 2) serves the lookup of drafts by phone as well; one index less to
        // update per ticket.
        """
        DROP INDEX IF EXISTS tickets_drafts_by_phone;
        """,
        // Phones are found by number (the primary key) and removed by number and RS ID; nothing looks them
        // up by RS ID alone, and subscribers are never deleted, so the index only cost a B-tree insert per phone.
        """
        DROP INDEX IF EXISTS subscriber_phones_by_rs_id;
        """,
        // A command's answer, so that the same command published again (an RPC client retrying after a
        // timeout) gets the same reply instead of none.
        """
        ALTER TABLE inbox ADD COLUMN reply_ticket_id TEXT;
        ALTER TABLE inbox ADD COLUMN reply_code TEXT;
        ALTER TABLE inbox ADD COLUMN reply_message TEXT;
        """,
        // The drafts a subscriber update may fill in: few, so whether there are any at all is one lookup.
        """
        CREATE INDEX tickets_unsettled_drafts ON tickets(contact_phone) WHERE state = 'draft' AND match IN ('unmatched', 'ambiguous');
        """,
    ]
}
