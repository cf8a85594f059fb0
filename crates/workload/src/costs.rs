//! What one task costs: the parts of `spawn` and `switch` that do not depend on the model.
//!
//! - `spawn --n N`: N tasks that do nothing, each started and joined the model's own way.
//!   Each reports one finished task; nothing else is shared.
//! - `switch --n N --rounds R`: N tasks in a ring hand a token on, R times round
//!   (jimblandy/context-switch's "bucket brigade"). The model supplies the channel and the
//!   spawn; this module builds the ring ([`ring`], or [`ring_in_turn`] one place at a
//!   time), marks the token at every hand-off ([`pass`]) and checks at the end that it
//!   went round exactly R times ([`check_ring`]).
//!
//! The ring: place `i` reads the token from its inbox and hands it on to place `i + 1`
//! (the last place to place 0), R times. Main puts the token in place 0's inbox to start,
//! and place 0, which started the journey, takes it back once more at the end: N x R
//! hand-offs in all, and the token as place 0 took it back is the run's checksum. Every
//! hand-off mixes the index of the place that made it into the token, so the checksum
//! spells the whole path: a place skipped, visited out of turn, or a round too many or
//! too few gives another number.

use crate::cli::SwitchArgs;
use crate::summary::Tally;
use anyhow::{bail, Result};

/// The token as main hands it to place 0: the FNV-1a offset basis.
pub const TOKEN_START: u64 = crate::io::FNV_START;

/// FNV-1a's 64-bit prime.
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// One hand-off's mark on the token: one FNV-1a step over the index of the place that
/// hands it on. One multiply, so it costs next to nothing beside the hand-off itself.
pub fn pass(token: u64, place: u64) -> u64 {
    (token ^ place).wrapping_mul(FNV_PRIME)
}

/// The token as place 0 takes it back after `rounds` times round a ring of `n`: what
/// every run must report as its checksum.
pub fn ring_checksum(n: u64, rounds: u64) -> u64 {
    (0..rounds).fold(TOKEN_START, |token, _| (0..n).fold(token, pass))
}

/// The run's result if the token went round exactly `rounds` times through every place in
/// order (N x R hand-offs, the path's checksum); an error naming the difference if not.
pub fn check_ring(args: &SwitchArgs, total: Tally) -> Result<Tally> {
    let want = ring_checksum(args.n, args.rounds);
    if total.checksum != want {
        bail!(
            "the token came back as {:#x}, not {want:#x}: it did not go round {} places {} times in order",
            total.checksum,
            args.n,
            args.rounds
        );
    }
    Ok(total)
}

/// One task's place in the ring: its index, the channel end it reads the token from, and
/// the one it hands it on through (the next place's inbox).
pub struct Place<S, R> {
    pub index: u64,
    pub inbox: R,
    pub outbox: S,
}

impl<S, R> Place<S, R> {
    /// Place 0 started the journey: it takes the token back once more at the end.
    pub fn takes_it_back(&self) -> bool {
        self.index == 0
    }
}

/// A ring of `n` places over channels made by `channel` (the model's own), and a sender
/// into place 0's inbox, through which main starts the token.
pub fn ring<S: Clone, R>(n: u64, mut channel: impl FnMut() -> (S, R)) -> (S, Vec<Place<S, R>>) {
    let (mut senders, receivers): (Vec<S>, Vec<R>) = (0..n).map(|_| channel()).unzip();
    let start = senders[0].clone();
    // Place i hands on to place i + 1: give it the sender of the next inbox.
    senders.rotate_left(1);
    let places = (0..n)
        .zip(receivers.into_iter().zip(senders))
        .map(|(index, (inbox, outbox))| Place {
            index,
            inbox,
            outbox,
        })
        .collect();
    (start, places)
}

/// The ring of [`ring`], made one place at a time, for channels whose ends are open files
/// (procs' pipes, of which every worker it forks inherits a copy until its exec). Each
/// channel is made just before the place that hands on into it is handed out, so the
/// maker holds four channel ends at most (the place handed out, place 0's sender, kept for
/// the last place, and the next place's inbox), not the whole ring's 2N.
/// `start` puts the token into place 0's inbox before any place is handed out; it waits
/// there until place 0 runs. A channel that cannot be made ends the ring with its error.
pub fn ring_in_turn<S, R, E>(
    n: u64,
    mut channel: impl FnMut() -> Result<(S, R), E>,
    start: impl FnOnce(&mut S) -> Result<(), E>,
) -> Result<impl Iterator<Item = Result<Place<S, R>, E>>, E> {
    let (mut first, inbox) = channel()?;
    start(&mut first)?;
    let (mut first, mut next_inbox) = (Some(first), Some(inbox));
    // Place i reads the inbox made with place i - 1 (place 0's, above), and hands on into
    // the one made now for place i + 1, or, the last, into place 0's.
    Ok((0..n).map_while(move |index| {
        // None after a channel failed: the ring ends with that error.
        let inbox = next_inbox.take()?;
        let outbox = match index + 1 == n {
            true => first.take()?,
            false => match channel() {
                Ok((sender, receiver)) => {
                    next_inbox = Some(receiver);
                    sender
                }
                Err(e) => return Some(Err(e)),
            },
        };
        Some(Ok(Place {
            index,
            inbox,
            outbox,
        }))
    }))
}

/// What one place reports: the `rounds` hand-offs it made, and the token if it took it
/// back at the end (place 0), as its checksum.
pub fn place_tally(rounds: u64, taken_back: Option<u64>) -> Tally {
    Tally {
        tasks: rounds,
        checksum: taken_back.unwrap_or(0),
        ..Tally::default()
    }
}

/// The error a model returns for a workload it cannot run sensibly (sync has no second
/// task to hand a token to): the run prints this one line and exits 2, like a bad argument.
#[derive(Debug)]
pub struct Unsupported(pub &'static str);

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Unsupported {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// A ring driven by hand, one place after another, on std channels: the token comes
    /// back with the checksum `ring_checksum` predicts, and only for the right path.
    #[test]
    fn a_ring_run_in_turn_comes_back_with_the_predicted_token() {
        let (n, rounds) = (3u64, 4u64);
        let (start, places) = ring(n, mpsc::channel::<u64>);
        start.send(TOKEN_START).unwrap();
        let mut total = Tally::default();
        for _ in 0..rounds {
            for place in &places {
                let token = place.inbox.recv().unwrap();
                place.outbox.send(pass(token, place.index)).unwrap();
            }
        }
        let back = places[0].inbox.recv().unwrap();
        for place in &places {
            total += place_tally(rounds, place.takes_it_back().then_some(back));
        }
        assert_eq!(total.tasks, n * rounds);
        let args = SwitchArgs { n, rounds };
        assert_eq!(check_ring(&args, total).unwrap().checksum, back);
        // One round more or less, or a smaller ring, is another number.
        for (n2, r2) in [(3, 3), (3, 5), (2, 6), (4, 3)] {
            assert_ne!(ring_checksum(n2, r2), back, "n={n2} rounds={r2}");
        }
        let wrong = place_tally(n * rounds, Some(ring_checksum(3, 3)));
        assert!(check_ring(&args, wrong)
            .unwrap_err()
            .to_string()
            .contains("did not go round 3 places 4 times"));
    }

    /// A ring made in turn is wired as `ring` wires it (each place hands on to the next,
    /// the last to place 0, where the token waits), and only two channels beyond place 0's
    /// exist when a place is handed out: the maker never holds the whole ring.
    #[test]
    fn a_ring_made_in_turn_is_the_same_ring_one_channel_at_a_time() {
        let n = 5;
        let made = std::cell::Cell::new(0u64);
        let channel = || {
            made.set(made.get() + 1);
            Ok::<_, ()>(mpsc::channel::<u64>())
        };
        let start = |first: &mut mpsc::Sender<u64>| first.send(TOKEN_START).map_err(drop);
        let mut places = Vec::new();
        for (i, place) in ring_in_turn(n, channel, start).unwrap().enumerate() {
            // Place 0's channel, this place's outbox, and no more.
            assert_eq!(made.get(), (i as u64 + 2).min(n), "place {i}");
            places.push(place.unwrap());
        }
        let mut token = places[0].inbox.try_recv().unwrap();
        for place in &places {
            place.outbox.send(pass(token, place.index)).unwrap();
            token = places[((place.index + 1) % n) as usize]
                .inbox
                .try_recv()
                .unwrap();
        }
        assert_eq!(token, ring_checksum(n, 1));
    }

    /// A channel that cannot be made ends the ring with its error, and nothing after it.
    #[test]
    fn a_ring_made_in_turn_ends_at_the_first_channel_that_fails() {
        let mut left = 3;
        let channel = || match left {
            0 => Err("no more"),
            _ => {
                left -= 1;
                Ok(mpsc::channel::<u64>())
            }
        };
        let places: Vec<_> = ring_in_turn(10, channel, |_| Ok(())).unwrap().collect();
        assert_eq!(places.len(), 3);
        assert!(places[..2].iter().all(Result::is_ok));
        assert_eq!(places[2].as_ref().err(), Some(&"no more"));
    }

    #[test]
    fn the_order_of_the_places_matters() {
        let forward = (0..3).fold(TOKEN_START, pass);
        let backward = (0..3).rev().fold(TOKEN_START, pass);
        assert_ne!(forward, backward);
        assert_eq!(forward, ring_checksum(3, 1));
    }
}
