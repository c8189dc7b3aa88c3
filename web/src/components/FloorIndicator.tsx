/** Who the assistant is hearing when several devices share the session (the `floor` message):
 * "Phone is speaking", or "You are speaking" when it is this device; nothing while it is free. */
export function FloorIndicator({ floor, thisDevice }: { floor: string | null; thisDevice: string | null }) {
  if (floor === null) return null;
  return (
    <span className="floor" data-testid="floor" data-device={floor} role="status">
      {floor === thisDevice ? "You are speaking" : `${floor} is speaking`}
    </span>
  );
}
