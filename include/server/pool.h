/*
 * pool.h - `wxauth serve`: the php-fpm role. Binds the FastCGI socket, forks
 * the workers, replaces a worker that dies (with back-off when it keeps
 * dying), re-reads the config and keys on SIGHUP by replacing workers one by
 * one, stops gracefully on SIGTERM/SIGINT and at once on SIGQUIT, reopens
 * logs on SIGUSR1.
 */
#ifndef WXAUTH_POOL_H
#define WXAUTH_POOL_H

/*
 * pool_listen: bind and listen on addr (a unix socket path, or host:port).
 * Returns the socket, or -1 with the reason logged. A stale unix socket is
 * replaced; one that still answers is an error (another pool runs).
 */
int pool_listen(const char *addr, int backlog, int mode);

/* pool_serve: run the pool for the config at path; returns the exit status. */
int pool_serve(const char *path);

#endif
