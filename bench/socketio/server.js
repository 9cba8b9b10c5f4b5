// The peer Natter is measured against: a plain Socket.io chat relay doing the same
// fan-out. A client joins its rooms, then emits `send`; the server numbers the message in
// its room (in memory, like Natter's broadcast-only mode) and emits it to every socket in
// the room, the sender's included. It keeps no history and checks nothing but that the
// sender joined the room.
'use strict';

const { Server } = require('socket.io');

const port = Number(process.env.PORT || 3100);
const io = new Server(port, {
  transports: ['websocket'],
  perMessageDeflate: false,
  maxHttpBufferSize: 64 * 1024,
  pingInterval: 20000,
  pingTimeout: 60000,
});

const lastSeq = new Map();

io.on('connection', (socket) => {
  socket.on('join', (rooms, ack) => {
    if (Array.isArray(rooms)) socket.join(rooms.filter((r) => typeof r === 'string'));
    if (typeof ack === 'function') ack(socket.rooms.size - 1);
  });
  socket.on('send', (m) => {
    if (!m || typeof m.room !== 'string' || typeof m.body !== 'string') return;
    if (!socket.rooms.has(m.room)) return;
    const seq = (lastSeq.get(m.room) || 0) + 1;
    lastSeq.set(m.room, seq);
    io.to(m.room).emit('message', { room: m.room, seq, body: m.body });
  });
});

console.log(`socket.io relay listening on 127.0.0.1:${port}`);
