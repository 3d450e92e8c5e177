/**
 * Troupe's Node backends: worker threads, child processes and remote hosts over TCP, each a Layer that
 * provides a Backend. (The backends arrive with the wire; this entry point is reserved for them.)
 */
export {}
