# Read by the sandbox's stand-in for a pod's bash (aiinfn_hub/sandbox/podshell.py) instead of
# ~/.bashrc: what an interactive bash of the image reads, and the image's prompt.
[ -r /etc/bash.bashrc ] && . /etc/bash.bashrc
PS1='\u@\h:\w\$ '
[ -r ~/.bashrc ] && . ~/.bashrc
