"""``python -m neutex`` (and ``torchrun ... -m neutex train``): the same as the ``neutex`` command."""

from neutex.cli import main

if __name__ == "__main__":
    main()
