/* SPDX-License-Identifier: ISC */
/*
 * The floor: the least a dead-man's switch can do, to measure dazaid
 * against. Listen, say ready, accept one connection, answer HELLO and
 * PING, wait for EOF with epoll, zero a 32-byte secret and SIGKILL itself
 * (or, in "exit" mode, remove the socket and exit 0 as a dry run does).
 * SIGUSR2 zeroes the secret and dies inside the handler.
 *
 * usage: floor SOCKET READY_FD kill|exit
 */
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned char	     secret[32];
static volatile sig_atomic_t kill_mode;

/* SIGUSR2: zero the secret with plain volatile stores, then die. */
static void
floor_usr2(int sig)
{
	volatile unsigned char *p = secret;
	size_t			i;

	(void)sig;
	for (i = 0; i < sizeof secret; i++)
		p[i] = 0;
	if (kill_mode)
		kill(getpid(), SIGKILL);
	_exit(0);
}

/* Write all of a reply. */
static void
floor_reply(int fd, const char *s)
{
	size_t len = strlen(s);

	if (write(fd, s, len) != (ssize_t)len)
		_exit(1);
}

/* Answer every complete line in buf; returns the bytes left over. */
static size_t
floor_lines(int fd, char *buf, size_t len)
{
	char  *nl;
	size_t used;

	while ((nl = memchr(buf, '\n', len)) != NULL) {
		if (strncmp(buf, "HELLO ", 6) == 0)
			floor_reply(fd, "WELCOME\n");
		else if (strncmp(buf, "PING\n", 5) == 0)
			floor_reply(fd, "PONG\n");
		else
			floor_reply(fd, "ERR unknown\n");
		used = (size_t)(nl - buf) + 1;
		memmove(buf, nl + 1, len - used);
		len -= used;
	}
	return len;
}

/* Serve one heartbeat, then die the way dazaid does. */
int
main(int argc, char **argv)
{
	struct sockaddr_un sun;
	struct epoll_event ev;
	struct sigaction   sa;
	char		   buf[512];
	size_t		   len = 0;
	ssize_t		   n;
	int		   lfd, cfd, ep, ready;

	if (argc != 4 || strlen(argv[1]) >= sizeof sun.sun_path)
		return 2;
	kill_mode = strcmp(argv[3], "kill") == 0;
	ready = atoi(argv[2]);
	if (getrandom(secret, sizeof secret, 0) != (ssize_t)sizeof secret)
		return 1;
	memset(&sa, 0, sizeof sa);
	sigfillset(&sa.sa_mask);
	sa.sa_handler = floor_usr2;
	if (sigaction(SIGUSR2, &sa, NULL) != 0)
		return 1;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, argv[1]);
	if ((lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(lfd, (struct sockaddr *)&sun, sizeof sun) != 0 ||
	    listen(lfd, 1) != 0)
		return 1;
	if (write(ready, "\n", 1) != 1)
		return 1;
	close(ready);

	if ((cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0 ||
	    (ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return 1;
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN;
	ev.data.fd = cfd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev) != 0)
		return 1;
	for (;;) {
		if (epoll_wait(ep, &ev, 1, -1) != 1)
			continue;
		n = read(cfd, buf + len, sizeof buf - len);
		if (n < 0)
			continue;
		if (n == 0)
			break;
		len = floor_lines(cfd, buf, len + (size_t)n);
		if (len == sizeof buf)
			len = 0;
	}
	/* The heartbeat is gone. */
	explicit_bzero(secret, sizeof secret);
	if (kill_mode)
		kill(getpid(), SIGKILL);
	unlink(argv[1]);
	return 0;
}
