//! Protocol behaviour over the real socket.
