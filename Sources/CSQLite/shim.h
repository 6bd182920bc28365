#ifndef METRIKA_CSQLITE_SHIM_H
#define METRIKA_CSQLITE_SHIM_H

#include <sqlite3.h>

/// Turns off SQLite's memory statistics (`sqlite3_config` is variadic, so Swift cannot call it). With
/// them on, every allocation takes a global mutex and updates counters the gateway never reads.
/// Effective only before SQLite initialises (the first open); later it returns SQLITE_MISUSE and changes nothing.
static inline int metrika_sqlite3_disable_memory_statistics(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/// SQLITE_TRANSIENT is a cast macro Swift cannot import: SQLite copies the bytes before returning.
static inline int metrika_sqlite3_bind_text(sqlite3_stmt *stmt, int index, const char *text, int length) {
    return sqlite3_bind_text(stmt, index, text, length, SQLITE_TRANSIENT);
}

/// Binds a blob; SQLite copies the bytes before returning.
static inline int metrika_sqlite3_bind_blob(sqlite3_stmt *stmt, int index, const void *bytes, int length) {
    return sqlite3_bind_blob(stmt, index, bytes, length, SQLITE_TRANSIENT);
}

#endif
