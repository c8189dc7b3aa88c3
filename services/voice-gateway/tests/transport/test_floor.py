"""First to speak holds the floor; a pause releases it; the session's own device carries the
stream while it is free."""

from voice_gateway.transport.floor import Floor

LOUD = (8000).to_bytes(2, "little", signed=True) * 480
QUIET = bytes(960)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_first_to_speak_holds_the_floor_until_a_pause() -> None:
    clock, changes = Clock(), []
    floor = Floor(owner="laptop", release_s=1.0, clock=clock, on_change=changes.append)
    assert floor.admit("laptop", QUIET)  # free: the owner's silence carries the stream
    assert not floor.admit("phone", QUIET)
    assert floor.admit("phone", LOUD)  # the phone speaks first
    assert not floor.admit("laptop", LOUD)  # the laptop talks over it: not heard
    clock.now = 0.9
    assert floor.admit("phone", QUIET)  # a short pause keeps the hold
    assert not floor.admit("laptop", LOUD)
    clock.now = 2.0  # over a second since the phone's last voiced frame
    assert floor.admit("laptop", LOUD)
    assert changes == ["phone", None, "laptop"]
    assert floor.last_speaker == "laptop"
    assert floor.dropped == 3


def test_a_holder_that_leaves_frees_the_floor() -> None:
    floor = Floor(owner="laptop", clock=Clock())
    assert floor.admit("phone", LOUD)
    floor.leave("phone")
    assert floor.holder is None
    assert floor.last_speaker == "phone"  # its words are still named after it
    assert floor.admit("laptop", QUIET)
