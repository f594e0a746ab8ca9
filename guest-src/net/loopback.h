/*
 * loopback.h — for the `net` cases that use loopback addresses: the gold kernel boots with its
 * loopback down, so each brings it up first (elsewhere it already is).
 */
#ifndef ELFVISOR_LOOPBACK_H
#define ELFVISOR_LOOPBACK_H

#include "check.h"

#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

CHECK_UNUSED static void loopback_up(void)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0 && !(ifr.ifr_flags & IFF_UP)) {
        ifr.ifr_flags |= IFF_UP;
        ioctl(s, SIOCSIFFLAGS, &ifr);
    }
    close(s);
}

#endif
