//! Layer 1, the keys and seals of the fleet (no I/O but an agent's own key file): each agent's
//! key pair ([`AgentKey`], X-Wing for HPKE), the writers' keys derived from the fleet password
//! ([`WriterKeys`]: the state's MAC, the signatures of deliveries), and a [`Delivery`]: what one
//! server must hold, sealed to its agent and signed by a writer.
//!
//! Uses nothing of the other layers; `state/` seals and signs with it, `fleet/` opens with it.

mod agent_key;
mod delivery;
mod writer_key;

pub use self::agent_key::{AgentKey, AgentKeyError, AgentPublicKey};
pub use self::delivery::{Delivery, DeliveryError, DeliveryHeader};
pub use self::writer_key::{BadWriterKey, WriterKeys, WriterPublicKey};
