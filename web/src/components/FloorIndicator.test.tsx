// @vitest-environment jsdom
import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { FloorIndicator } from "./FloorIndicator";

afterEach(cleanup);

describe("FloorIndicator", () => {
  it("names the device holding the floor, says so when it is this one, and shows nothing when free", () => {
    const { rerender } = render(<FloorIndicator floor="Phone" thisDevice="Laptop" />);
    expect(screen.getByTestId("floor").textContent).toBe("Phone is speaking");
    expect(screen.getByTestId("floor").dataset.device).toBe("Phone");
    rerender(<FloorIndicator floor="Laptop" thisDevice="Laptop" />);
    expect(screen.getByTestId("floor").textContent).toBe("You are speaking");
    rerender(<FloorIndicator floor={null} thisDevice="Laptop" />);
    expect(screen.queryByTestId("floor")).toBeNull();
  });
});
